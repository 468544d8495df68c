"""Polar: the raw-secret key derivation (against a vector built as Polar's SDK builds it), the accept/reject
table, and parsing of every event type with the id from the webhook-id header."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest

import bridge.providers.polar as polar
import bridge.providers.standard as standard
from bridge.errors import ConfigError, PayloadError, SignatureError
from bridge.providers.polar.webhook import PolarProvider
from bridge.providers.standard.webhook import StandardProvider, sign

SAMPLES = Path(polar.__file__).parent / "samples"
# Polar's secrets are `whsec_` + secrets.token_urlsafe (server polar/webhook/service.py, kit/crypto.py).
SECRET = "whsec_3kT9vQ2mXcLp8RzA7wN4bYd6Fh1Js5Ge"  # alphanumeric after the prefix: it also reads as base64
URLSAFE_SECRET = "whsec_Zq-4_Lm9xV2c8N-rT5_hK7pW"  # with - and _: not base64 at all
OTHER_SECRET = "whsec_anotherPolarEndpointSecret0"
NOW = 1_793_700_000
BODY = (SAMPLES / "subscription.created.json").read_bytes()


def sdk_headers(body: bytes, secret: str, msg_id: str = "9a7d1c3e-5b2f-4e8a-b6d4-0f2c8e6a4b19",
                timestamp: int = NOW) -> dict[str, str]:
    """Signed as polar_sdk.webhooks.validate_event expects (polarsource/polar-python, src/polar_sdk/webhooks):
    the secret is base64-encoded, then handed to the Standard Webhooks library, which base64-decodes it again and
    signs `"{id}.{timestamp}.{body}"` with HMAC-SHA256. Written out here with the standard library only."""
    b64_secret = base64.b64encode(secret.encode()).decode()
    key = base64.b64decode(b64_secret)
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": "v1," + base64.b64encode(digest).decode()}


def provider(*secrets: str) -> PolarProvider:
    config = polar.configure({"POLAR_WEBHOOK_SECRET": ",".join(secrets)})
    assert config is not None
    return polar.webhook(config)


@pytest.mark.parametrize("secret", [SECRET, URLSAFE_SECRET])
def test_verify_accepts_a_message_signed_as_polars_sdk_verifies(secret: str) -> None:
    provider(secret).verify(BODY, sdk_headers(BODY, secret), NOW)


def test_a_generic_standard_verifier_fed_polars_secret_fails() -> None:
    generic = standard.configure({"STANDARD_WEBHOOK_SECRET": SECRET})
    assert generic is not None  # the rest of the secret happens to be base64, so it decodes — to the wrong key
    with pytest.raises(SignatureError, match="no v1 signature matches"):
        standard.webhook(generic).verify(BODY, sdk_headers(BODY, SECRET), NOW)
    with pytest.raises(ConfigError):  # a secret with - or _ does not even decode
        standard.configure({"STANDARD_WEBHOOK_SECRET": URLSAFE_SECRET})


def test_a_generic_verifier_fed_the_base64_of_the_secret_agrees_with_ours() -> None:
    # the SDK's own step: base64-encode Polar's secret, and the generic scheme verifies it
    b64_secret = base64.b64encode(SECRET.encode()).decode()
    generic = standard.configure({"STANDARD_WEBHOOK_SECRET": b64_secret})
    assert generic is not None and generic.keys == polar.configure({"POLAR_WEBHOOK_SECRET": SECRET}).keys  # type: ignore[union-attr]
    standard.webhook(generic).verify(BODY, sdk_headers(BODY, SECRET), NOW)


@pytest.mark.parametrize(
    ("case", "body", "sent", "now", "accepted"),
    [
        ("right secret", BODY, sdk_headers(BODY, SECRET), NOW, True),
        ("wrong secret", BODY, sdk_headers(BODY, OTHER_SECRET), NOW, False),
        ("tampered body", BODY.replace(b"2900", b"2901"), sdk_headers(BODY, SECRET), NOW, False),
        ("300 s old", BODY, sdk_headers(BODY, SECRET, timestamp=NOW - 300), NOW, True),
        ("stale", BODY, sdk_headers(BODY, SECRET, timestamp=NOW - 301), NOW, False),
        ("future", BODY, sdk_headers(BODY, SECRET, timestamp=NOW + 301), NOW, False),
        ("missing id", BODY, {**sdk_headers(BODY, SECRET), "webhook-id": ""}, NOW, False),
        ("missing timestamp", BODY, {k: v for k, v in sdk_headers(BODY, SECRET).items()
                                     if k != "webhook-timestamp"}, NOW, False),
        ("missing signature", BODY, {k: v for k, v in sdk_headers(BODY, SECRET).items()
                                     if k != "webhook-signature"}, NOW, False),
        ("malformed signature", BODY, {**sdk_headers(BODY, SECRET), "webhook-signature": "v1"}, NOW, False),
        ("timestamp not digits", BODY, {**sdk_headers(BODY, SECRET), "webhook-timestamp": "soon"}, NOW, False),
    ],
)
def test_verify_table(case: str, body: bytes, sent: dict[str, str], now: int, accepted: bool) -> None:
    if accepted:
        provider(SECRET).verify(body, sent, now)
    else:
        with pytest.raises(SignatureError) as refused:
            provider(SECRET).verify(body, sent, now)
        assert SECRET[6:] not in str(refused.value)


def test_verify_accepts_any_configured_secret_while_rolling() -> None:
    rolled = provider(OTHER_SECRET, SECRET)
    rolled.verify(BODY, sdk_headers(BODY, SECRET), NOW)
    rolled.verify(BODY, sdk_headers(BODY, OTHER_SECRET), NOW)


def test_refusal_names_the_variable() -> None:
    with pytest.raises(SignatureError, match="POLAR_WEBHOOK_SECRET"):
        provider(SECRET).verify(BODY, sdk_headers(BODY, OTHER_SECRET), NOW)


def test_parse_reads_id_type_time_and_customer() -> None:
    event = provider(SECRET).parse(BODY, sdk_headers(BODY, SECRET))
    assert (event.provider, event.id, event.type) == ("polar", "9a7d1c3e-5b2f-4e8a-b6d4-0f2c8e6a4b19",
                                                      "subscription.created")
    assert event.created == pytest.approx(1793611212.801337)  # 2026-11-02T09:20:12.801337Z, the body's timestamp
    assert event.customer_id == "992fae2a-2a17-4b7a-8d9e-e287cf90131b"
    assert event.livemode is None and event.payload == json.loads(BODY)


@pytest.mark.parametrize(("sample", "customer"), [
    ("order.paid.json", "992fae2a-2a17-4b7a-8d9e-e287cf90131b"),
    ("refund.created.json", "992fae2a-2a17-4b7a-8d9e-e287cf90131b"),
    ("customer.updated.json", "992fae2a-2a17-4b7a-8d9e-e287cf90131b"),
])
def test_parse_finds_the_customer_of_each_sample(sample: str, customer: str) -> None:
    body = (SAMPLES / sample).read_bytes()
    assert provider(SECRET).receive(body, sdk_headers(body, SECRET), NOW).customer_id == customer


@pytest.mark.parametrize("event_type", ["benefit_grant.created", "checkout.expired", "member.created",
                                        "something.polar_adds_next_year"])
def test_unknown_and_unmodelled_types_are_accepted(event_type: str) -> None:
    body = json.dumps({"type": event_type, "timestamp": "2026-11-30T10:00:00Z", "data": {"id": "x"}}).encode()
    event = provider(SECRET).receive(body, sdk_headers(body, SECRET), NOW)
    assert event.type == event_type and event.customer_id is None
    assert polar.facts(event, {}).subscription is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not JSON"),
        (b'"a string"', "not a JSON object"),
        (b'{"type": "order.paid", "data": {"total_amount": NaN}}', "not JSON"),
        (b'{"data": {}}', "no type"),
        (b'{"type": "order.paid"}', "no data object"),
        (b'{"type": "order.paid", "data": []}', "no data object"),
        (b'{"type": "order.paid", "timestamp": "not a time", "data": {}}', "ISO 8601"),
        (b'{"type": "x", "data": {"d": ' + b"[" * 63 + b"]" * 63 + b"}}", "deeper than 64"),
    ],
)
def test_parse_refuses_bodies_that_are_not_polar_events(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        provider(SECRET).parse(body, sdk_headers(body, SECRET))


def test_parse_needs_the_headers() -> None:
    with pytest.raises(PayloadError, match="webhook-id"):
        provider(SECRET).parse(BODY)


def test_the_standard_verifier_and_ours_sign_alike_for_the_same_key() -> None:
    key = SECRET.encode()
    assert sdk_headers(BODY, SECRET)["webhook-signature"] == sign(key, "9a7d1c3e-5b2f-4e8a-b6d4-0f2c8e6a4b19",
                                                                  NOW, BODY)
    StandardProvider((key,)).verify(BODY, sdk_headers(BODY, SECRET), NOW)
