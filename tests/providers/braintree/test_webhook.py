"""Braintree's verifier, challenge and parser: official vectors, and an accept/reject table."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import urlencode

import pytest

import bridge.providers.braintree as braintree
from bridge.errors import PayloadError, SignatureError
from bridge.providers.braintree.notification import MAX_DEPTH, decode
from bridge.providers.braintree.webhook import BraintreeProvider, sign

SAMPLES = Path(braintree.__file__).parent / "samples"
PUBLIC, PRIVATE = "contract_public_key", "contract_private_key"
NOW = 1_800_000_000.0


def provider(public: str = PUBLIC, private: str = PRIVATE) -> BraintreeProvider:
    return BraintreeProvider(public, private)


def payload_of(xml: str) -> str:
    """As Braintree encodes it: base64 with a line break every 76 characters and one at the end."""
    return base64.encodebytes(xml.encode()).decode()


def form(payload: str, signature: str) -> bytes:
    return urlencode({"bt_signature": signature, "bt_payload": payload}).encode()


def signed(xml: str, private: str = PRIVATE, public: str = PUBLIC) -> bytes:
    payload = payload_of(xml)
    return form(payload, f"{public}|{sign(private, payload)}")


SAMPLE = (SAMPLES / "subscription_went_active.xml").read_text()


# Official vectors: braintree/braintree_python tests/unit/test_webhooks.py
# (test_verify_returns_a_correct_challenge_response, with tests/test_helper.py's integration key pair).
def test_challenge_official_vector() -> None:
    answer = provider("integration_public_key", "integration_private_key").challenge("20f9f8ed05f77439fe955c977e4c8a53")
    assert answer == "integration_public_key|d9b899556c966b3f06945ec21311865d35df3ce4"


@pytest.mark.parametrize("value", ["bad challenge", "20F9F8ED05F77439FE955C977E4C8A53", "abc", "a" * 33, ""])
def test_challenge_refuses_what_braintree_never_sends(value: str) -> None:
    with pytest.raises(PayloadError, match="bt_challenge"):
        provider().challenge(value)


def test_sign_official_vector() -> None:
    # braintree/braintree_python tests/unit/test_crypto.py (test_hmac_hash): SHA-1 HMAC keyed by SHA-1(key).
    assert sign("secretKey", "hello world") == "d503d7a1a6adba1e6474e9ff2c4167f9dfdf4247"


def test_receive_accepts_a_signed_notification() -> None:
    event = provider().receive(signed(SAMPLE), {}, NOW)
    assert (event.provider, event.type, event.customer_id) == ("braintree", "subscription_went_active", "cus_48213")
    assert event.id == "subscription_went_active:sub_7hq2kd:2026-11-02T09:20:12Z"
    assert event.created == 1_793_611_212.0  # 2026-11-02T09:20:12Z
    assert event.livemode is None
    assert event.payload["notification"]["subject"]["subscription"]["plan_id"] == "Pro"


def test_receive_accepts_a_payload_whose_trailing_newline_was_stripped() -> None:
    payload = payload_of(SAMPLE)
    body = form(payload.rstrip("\n"), f"{PUBLIC}|{sign(PRIVATE, payload)}")
    provider().verify(body, {}, NOW)


def test_receive_accepts_our_pair_among_others() -> None:
    payload = payload_of(SAMPLE)
    signature = f"other_public|{'0' * 40}&{PUBLIC}|{sign(PRIVATE, payload)}"
    provider().verify(form(payload, signature), {}, NOW)


def test_a_retry_keeps_the_dedupe_key_and_another_kind_does_not() -> None:
    first = provider().receive(signed(SAMPLE), {}, NOW)
    again = provider().receive(signed(SAMPLE), {}, NOW + 3600)
    other = provider().receive(signed(SAMPLE.replace("subscription_went_active", "subscription_charged_successfully")),
                               {}, NOW)
    assert first.id == again.id and other.id != first.id


def _tampered() -> bytes:
    payload = payload_of(SAMPLE)
    return form(payload_of(SAMPLE.replace("49.00", "1.00")), f"{PUBLIC}|{sign(PRIVATE, payload)}")


@pytest.mark.parametrize(("body", "error", "message"), [
    (signed(SAMPLE, private="another_private_key"), SignatureError, "does not match"),
    (signed(SAMPLE, public="another_public_key"), SignatureError, "no signature for BRAINTREE_PUBLIC_KEY"),
    (_tampered(), SignatureError, "does not match"),
    (form(payload_of(SAMPLE), "not-pairs"), SignatureError, "not a list"),
    (urlencode({"bt_payload": payload_of(SAMPLE)}).encode(), SignatureError, "missing bt_signature"),
    (urlencode({"bt_signature": f"{PUBLIC}|{'0' * 40}"}).encode(), SignatureError, "missing bt_payload"),
    (b"", SignatureError, "missing bt_signature"),
    (b'{"kind": "subscription_canceled"}', PayloadError, "form"),
    ("bt_signature=\u00e9&bt_payload=x".encode(), PayloadError, "ASCII"),
    (b"bt_signature=a&bt_signature=b&bt_payload=x", PayloadError, "more than once"),
])
def test_verify_refuses(body: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as caught:
        provider().verify(body, {}, NOW)
    assert PRIVATE not in str(caught.value)


def test_verify_messages_never_show_the_signature() -> None:
    body = signed(SAMPLE, private="another_private_key")
    with pytest.raises(SignatureError) as caught:
        provider().verify(body, {}, NOW)
    assert sign("another_private_key", payload_of(SAMPLE)) not in str(caught.value)


def _doc(inner: str) -> str:
    return f"<notification><timestamp type=\"datetime\">2026-11-02T09:20:12Z</timestamp>{inner}</notification>"


@pytest.mark.parametrize(("xml", "message"), [
    ('<?xml version="1.0"?><!DOCTYPE n [<!ENTITY a "aaaa">]><notification>&a;</notification>', "DTD or entities"),
    ("<notification><kind>x</kind>", "well-formed"),
    ("<other><kind>x</kind></other>", "root element"),
    (_doc("<subject><subscription><id>s</id></subscription></subject>"), "no <kind>"),
    ("<notification><kind>k</kind><timestamp>soon</timestamp><subject><a><id>1</id></a></subject></notification>",
     "timestamp"),
    (_doc("<kind>check</kind>"), "no <subject>"),
    (_doc("<kind>k</kind><subject>" + "<a>" * MAX_DEPTH + "</a>" * MAX_DEPTH + "</subject>"), "deeper"),
])
def test_parse_refuses_what_is_not_a_notification(xml: str, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        provider().parse(signed(xml))


@pytest.mark.parametrize("payload", ["~* invalid! *~", "PG5vdGlm\r\naWNhdGlvbj4=", "Zm9v!"])
def test_decode_refuses_what_is_not_base64(payload: str) -> None:
    with pytest.raises(PayloadError, match="base64"):
        decode(payload)


def test_parse_without_a_subject_id_keys_on_a_digest_of_the_payload() -> None:
    event = provider().parse(signed(_doc("<kind>check</kind><subject><check type=\"boolean\">true</check></subject>")))
    assert event.id.startswith("check:sha256:") and len(event.id) == len("check:sha256:") + 64
    assert event.payload["notification"]["subject"] == {"check": True}


def test_decode_reads_types_the_way_braintree_does() -> None:
    found = decode(payload_of(_doc(
        "<kind>k</kind><subject><subscription><id>s</id><failure-count type=\"integer\">2</failure-count>"
        "<never-expires type=\"boolean\">true</never-expires><number-of-billing-cycles nil=\"true\"/>"
        "<add-ons type=\"array\"><add-on><id>a</id></add-on><add-on><id>b</id></add-on></add-ons>"
        "<discounts type=\"array\"/></subscription></subject>")))
    assert found["subject"]["subscription"] == {
        "id": "s", "failure_count": 2, "never_expires": True, "number_of_billing_cycles": None,
        "add_ons": [{"id": "a"}, {"id": "b"}], "discounts": []}
