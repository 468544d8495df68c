"""Stripe verification and parsing; the official library signs, so the oracle is not our code."""

from __future__ import annotations

import json

import pytest
import stripe

from bridge.errors import PayloadError, SignatureError
from bridge.providers.stripe.webhook import StripeProvider, customer_of

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
