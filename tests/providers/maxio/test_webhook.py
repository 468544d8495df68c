"""Maxio's verifier, form reader and parser: the accept/reject table, dedupe id and event time."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

import bridge.providers.maxio as maxio
from bridge.errors import PayloadError, SignatureError
from bridge.providers.maxio.form import MAX_DEPTH, read_form
from bridge.providers.maxio.webhook import MaxioProvider, sign

SAMPLES = Path(maxio.__file__).parent / "samples"
KEY = "contract_shared_key"
NOW = 1_800_000_000.0
BODY = (SAMPLES / "payment_success.form").read_bytes()


def headers(body: bytes, key: str = KEY, webhook_id: str = "1502210001") -> dict[str, str]:
    return {"x-chargify-webhook-signature-hmac-sha-256": sign(body, key), "x-chargify-webhook-id": webhook_id,
            "content-type": "application/x-www-form-urlencoded"}


def test_sign_is_hmac_sha256_hex_of_the_raw_body() -> None:
    # Maxio publishes no fixed vector with its key; this is the scheme its docs describe, computed independently.
    expected = hmac.new(b"site-shared-key", b"id=1&event=test&payload[chargify]=testing", hashlib.sha256).hexdigest()
    assert sign(b"id=1&event=test&payload[chargify]=testing", "site-shared-key") == expected
    assert len(expected) == 64


def test_receive_accepts_a_signed_webhook() -> None:
    event = MaxioProvider((KEY,)).receive(BODY, headers(BODY), NOW)
    assert (event.provider, event.id, event.type, event.customer_id) == (
        "maxio", "1502210001", "payment_success", "48213377")
    assert event.created == 1_796_203_263.0  # the transaction's created_at, 2026-12-02 04:21:03 -0500
    assert event.payload["payload"]["transaction"]["amount_in_cents"] == "14700"


def test_receive_accepts_an_upper_case_signature_and_a_rotated_key() -> None:
    signed = headers(BODY, "old_key")
    signed["x-chargify-webhook-signature-hmac-sha-256"] = signed["x-chargify-webhook-signature-hmac-sha-256"].upper()
    MaxioProvider((KEY, "old_key")).verify(BODY, signed, NOW)


@pytest.mark.parametrize(("body", "sent", "message"), [
    (BODY, headers(BODY, "wrong_key"), "does not match"),
    (BODY.replace(b"14700", b"100"), headers(BODY), "does not match"),
    (BODY + b"\n", headers(BODY), "does not match"),
    (BODY, {"x-chargify-webhook-id": "1"}, "missing"),
    (BODY, {"x-chargify-webhook-signature-hmac-sha-256": ""}, "missing"),
    (BODY, {"x-chargify-webhook-signature-hmac-sha-256": "f" * 300}, "too long"),
    (BODY, {"x-chargify-webhook-signature": hashlib.md5(KEY.encode() + BODY).hexdigest()}, "missing"),  # noqa: S324
])
def test_verify_refuses(body: bytes, sent: dict[str, str], message: str) -> None:
    with pytest.raises(SignatureError, match=message) as caught:
        MaxioProvider((KEY,)).verify(body, sent, NOW)
    assert KEY not in str(caught.value) and sign(BODY, KEY) not in str(caught.value)


def test_the_dedupe_id_is_the_header_else_the_body_id() -> None:
    provider = MaxioProvider((KEY,))
    assert provider.parse(BODY, {}).id == "1502210001"
    with pytest.raises(PayloadError, match="differ"):
        provider.parse(BODY, {"x-chargify-webhook-id": "999"})
    without = b"event=test&payload[chargify]=testing"
    assert provider.parse(without, {"x-chargify-webhook-id": "77"}, received=NOW).id == "77"
    with pytest.raises(PayloadError, match="no X-Chargify-Webhook-Id"):
        provider.parse(without, {}, received=NOW)


def test_an_event_without_a_time_takes_the_time_it_was_received() -> None:
    body = (SAMPLES / "test.form").read_bytes()
    event = MaxioProvider((KEY,)).receive(body, headers(body, webhook_id="1502210005"), NOW)
    assert (event.type, event.created, event.customer_id) == ("test", NOW, None)
    with pytest.raises(PayloadError, match="no time"):
        MaxioProvider((KEY,)).parse(body, {})


def test_the_event_time_prefers_the_payload_timestamp() -> None:
    body = (SAMPLES / "component_allocation_change.form").read_bytes()
    assert MaxioProvider((KEY,)).parse(body, {}).created == 1_794_323_077.0  # 2026-11-10T15:04:37Z


@pytest.mark.parametrize(("body", "message"), [
    (b"id=1&payload[subscription][id]=2", "no event"),
    (b"id=1&event=test&payload=flat", "not a set of fields"),
    (b"\xff\xfe", "UTF-8"),
    (b"id=1&event", "not a form"),
    (b"id=1&event=x&a[b]=1&a[b][c]=2", "both a value and a parent"),
    (b"id=1&event=x&a[b][c]=2&a[b]=1", "both a value and a parent"),
    (b"id=1&event=x&a]b=1", "not name"),
    (b"id=1&event=x&" + b"a" + b"[b]" * MAX_DEPTH + b"=1", "deeper"),
])
def test_parse_refuses_what_is_not_a_maxio_webhook(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        MaxioProvider((KEY,)).parse(body, {"x-chargify-webhook-id": "1"}, received=NOW)


def test_read_form_nests_brackets_and_lists_repeated_keys() -> None:
    form = read_form(b"id=7&event=x&payload%5Bsubscription%5D%5Bid%5D=9&payload[p][pages][id]=1"
                     b"&payload[p][pages][id]=2&payload[p][pages][id]=3&payload[empty]=&payload[s]=a+b%26c")
    assert form == {"id": "7", "event": "x", "payload": {"subscription": {"id": "9"},
                    "p": {"pages": {"id": ["1", "2", "3"]}}, "empty": "", "s": "a b&c"}}


def test_contract_fixtures_are_signed_as_maxio_signs_them() -> None:
    root = Path(__file__).resolve().parents[2] / "fixtures" / "contract" / "maxio"
    for path in root.glob("*.form"):
        body = path.read_bytes()
        event = MaxioProvider((KEY,)).receive(body, headers(body, webhook_id=read_form(body)["id"]), NOW)
        assert event.type in ("signup_success", "subscription_state_change")
