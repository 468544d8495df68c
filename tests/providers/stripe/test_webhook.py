"""Stripe verification and parsing; the official library signs, so the oracle is not our code."""

from __future__ import annotations

import json

import pytest
import stripe

from bridge.errors import PayloadError, SignatureError
from bridge.providers.stripe.webhook import (
    MAX_DEPTH,
    SignatureHeader,
    StripeProvider,
    customer_of,
    read_signature_header,
)
from bridge.providers.stripe.webhook import sign as v1_signature

SECRET = "whsec_primary"
OLD_SECRET = "whsec_previous"
NOW = 1_750_000_000
BODY = json.dumps({
    "id": "evt_1", "object": "event", "type": "invoice.paid", "created": NOW - 5, "livemode": True,
    "api_version": "2025-03-31.basil", "data": {"object": {"object": "invoice", "customer": "cus_9"}},
}).encode()


def sign(body: bytes, secret: str = SECRET, timestamp: int = NOW) -> str:
    return stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=timestamp)


def test_stripe_verify_accepts_official_signature() -> None:
    StripeProvider((SECRET,)).verify(BODY, {"stripe-signature": sign(BODY)}, now=NOW)


def test_stripe_verify_accepts_any_v1_against_any_secret_during_a_roll() -> None:
    ours = sign(BODY, OLD_SECRET).split(",")[1]
    unknown = sign(BODY, "whsec_unrelated").split(",")[1]
    header = f"t={NOW},{unknown},{ours}"
    StripeProvider((SECRET, OLD_SECRET)).verify(BODY, {"stripe-signature": header}, now=NOW)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("", "missing"),
        ("garbage", "no valid timestamp"),
        (f"t={NOW}", "no v1 signature"),
        (f"t={NOW},v0=" + "0" * 64, "no v1 signature"),
        (sign(BODY, "whsec_wrong"), "no v1 signature"),
        (sign(BODY, timestamp=NOW - 301), "old"),
        (sign(BODY, timestamp=NOW + 301), "future"),
    ],
)
def test_stripe_verify_rejects(header: str, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        StripeProvider((SECRET,)).verify(BODY, {"stripe-signature": header}, now=NOW)


def library_signature(body: bytes, timestamp: int, secret: str = SECRET) -> str:
    return stripe.WebhookSignature._compute_signature(f"{timestamp}.{body.decode()}", secret)


@pytest.mark.parametrize("body", [BODY, "{\"name\": \"Zoë 🚀\"}".encode(), b"", b"{}\n"])
def test_stripe_sign_agrees_with_the_library(body: bytes) -> None:
    assert v1_signature(body, NOW, SECRET) == library_signature(body, NOW)


@pytest.mark.parametrize(
    ("header", "expected"),
    [(f"t={NOW},v1=aa", SignatureHeader(NOW, ("aa",))),
     (f" t={NOW} , v1=aa ,v1=bb, v0=cc, x=1", SignatureHeader(NOW, ("aa", "bb"))),
     (f"v1=aa,t={NOW}", SignatureHeader(NOW, ("aa",)))],
)
def test_stripe_read_signature_header(header: str, expected: SignatureHeader) -> None:
    assert read_signature_header(header) == expected


@pytest.mark.parametrize(
    ("header", "reason"),
    [(f"t={NOW},t={NOW},v1=aa", "more than one timestamp"), (f"t={NOW}, t={NOW - 1},v1=aa", "more than one"),
     (f"t={NOW},v1=aa,t=", "more than one"), ("v1=aa", "no valid timestamp"), ("t=,v1=aa", "no valid timestamp"),
     (f"t=+{NOW},v1=aa", "no valid timestamp"), (f"t={NOW}.5,v1=aa", "no valid timestamp"),
     ("t=-1,v1=aa", "no valid timestamp"), ("t=١٢٣,v1=aa", "no valid timestamp"), (f"t={NOW},v0=aa", "no v1")],
)
def test_stripe_read_signature_header_refuses(header: str, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        read_signature_header(header)


@pytest.mark.parametrize("shape", ["v1={sig}, t={now},t={old}", "t={now},t={old},v1={sig}", "t={old},v1={sig},t={now}"])
def test_stripe_verify_refuses_a_captured_signature_with_a_fresh_timestamp_added(shape: str) -> None:
    old = NOW - 10 * 86400
    signature = library_signature(BODY, old)
    header = shape.format(sig=signature, now=NOW, old=old)
    with pytest.raises(SignatureError) as caught:
        StripeProvider((SECRET,)).verify(BODY, {"stripe-signature": header}, now=NOW)
    assert signature not in str(caught.value) and SECRET not in str(caught.value)


def test_stripe_verify_checks_the_signature_against_the_timestamp_it_checked() -> None:
    stale = library_signature(BODY, NOW - 10 * 86400)
    with pytest.raises(SignatureError, match="no v1 signature"):
        StripeProvider((SECRET,)).verify(BODY, {"stripe-signature": f"t={NOW},v1={stale}"}, now=NOW)


def test_stripe_verify_rejects_a_changed_body() -> None:
    with pytest.raises(SignatureError):
        StripeProvider((SECRET,)).verify(BODY + b"\n", {"stripe-signature": sign(BODY)}, now=NOW)


def test_stripe_verify_errors_never_contain_secret_or_signature() -> None:
    header = sign(BODY, "whsec_wrong")
    with pytest.raises(SignatureError) as caught:
        StripeProvider((SECRET,)).verify(BODY, {"stripe-signature": header}, now=NOW)
    text = str(caught.value) + repr(caught.value.__cause__) + repr(caught.value.__context__)
    assert SECRET not in text
    assert header.split("v1=")[1] not in text


def test_stripe_parse_normalises_event() -> None:
    event = StripeProvider((SECRET,)).parse(BODY)
    assert (event.id, event.type, event.created, event.livemode) == ("evt_1", "invoice.paid", NOW - 5, True)
    assert event.api_version == "2025-03-31.basil"
    assert event.customer_id == "cus_9"
    assert event.payload["data"]["object"]["object"] == "invoice"


def test_stripe_parse_keeps_connect_account() -> None:
    body = json.loads(BODY)
    body["account"] = "acct_123"
    assert StripeProvider((SECRET,)).parse(json.dumps(body).encode()).connect_account == "acct_123"


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"id": 1}', json.dumps({"id": "evt_1", "object": "charge"}).encode(),
     json.dumps({"id": "evt_1", "object": "event", "type": "x", "created": 1, "data": {}}).encode(),
     json.dumps({"id": "evt_1", "object": "event", "type": "x", "created": "soon",
                 "data": {"object": {}}}).encode()],
)
def test_stripe_parse_rejects_non_events(body: bytes) -> None:
    with pytest.raises(PayloadError):
        StripeProvider((SECRET,)).parse(body)


def event_body(**overrides: object) -> bytes:
    body = json.loads(BODY)
    body.update(overrides)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [({"id": "evt_\ud800"}, "id has a control character or an unpaired surrogate"),
     ({"id": "evt_\x00"}, "id has a control"), ({"id": "evt_\u2028"}, "id has a control"),
     ({"id": ""}, "id must have 1 to 255"), ({"id": "e" * 256}, "id must have 1 to 255"),
     ({"type": "t" * 256}, "type must have"), ({"type": "invoice.\tpaid"}, "type has a control"),
     ({"api_version": "v" * 65}, "api_version must have 1 to 64"), ({"account": "a" * 256}, "connect_account"),
     ({"created": float("nan")}, "created"), ({"created": float("inf")}, "created"), ({"created": -1}, "created"),
     ({"created": 4_102_444_801}, "created"), ({"created": 10**400}, "created")],
)
def test_stripe_parse_refuses_values_the_store_cannot_hold(overrides: dict[str, object], reason: str) -> None:
    with pytest.raises(PayloadError, match=reason) as caught:
        StripeProvider((SECRET,)).parse(event_body(**overrides))
    assert "\x00" not in str(caught.value) and "e" * 256 not in str(caught.value)


def test_stripe_parse_refuses_a_customer_id_the_store_cannot_hold() -> None:
    body = event_body(data={"object": {"object": "invoice", "customer": "cus_" + "c" * 300}})
    with pytest.raises(PayloadError, match="customer_id"):
        StripeProvider((SECRET,)).parse(body)


def test_stripe_parse_accepts_the_limits() -> None:
    event = StripeProvider((SECRET,)).parse(event_body(id="e" * 255, created=0, api_version="v" * 64))
    assert len(event.id) == 255 and event.created == 0


def nested(depth: int) -> bytes:
    """An event whose data.object holds arrays nested so that the whole body is `depth` levels deep."""
    inner = "[" * (depth - 3) + "]" * (depth - 3)
    return event_body(data={"object": {"object": "invoice", "lines": "HOLE"}}).replace(b'"HOLE"', inner.encode())


def test_stripe_parse_accepts_max_depth_and_refuses_one_more() -> None:
    assert StripeProvider((SECRET,)).parse(nested(MAX_DEPTH)).id == "evt_1"
    with pytest.raises(PayloadError, match=f"deeper than {MAX_DEPTH}"):
        StripeProvider((SECRET,)).parse(nested(MAX_DEPTH + 1))


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000])
def test_stripe_parse_refuses_deep_nesting_without_recursing(body: bytes) -> None:
    with pytest.raises(PayloadError, match="deeper than"):
        StripeProvider((SECRET,)).parse(body)
    with pytest.raises(PayloadError, match="deeper than"):
        StripeProvider((SECRET,)).parse(nested(100_000))


def test_stripe_parse_accepts_thin_event_notification() -> None:
    body = json.dumps({"id": "evt_thin", "object": "v2.core.event", "type": "v1.billing.meter.error_report_triggered",
                       "created": "2025-01-01T00:00:00.000Z", "livemode": False,
                       "related_object": {"id": "mtr_1", "type": "billing.meter"}}).encode()
    event = StripeProvider((SECRET,)).parse(body)
    assert event.thin and event.created == 1735689600.0 and event.livemode is False


@pytest.mark.parametrize(
    ("obj", "expected"),
    [({"object": "customer", "id": "cus_1"}, "cus_1"), ({"customer": "cus_2"}, "cus_2"),
     ({"customer": {"id": "cus_3"}}, "cus_3"), ({"customer": None}, None), ({}, None)],
)
def test_stripe_customer_of(obj: dict[str, object], expected: str | None) -> None:
    assert customer_of(obj) == expected
