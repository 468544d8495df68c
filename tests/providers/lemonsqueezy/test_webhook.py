"""Lemon Squeezy's `X-Signature` verification and webhook parsing, with its dedupe key and test/live mode."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

import bridge.providers.lemonsqueezy as lemonsqueezy
from bridge.errors import PayloadError, SignatureError
from bridge.providers.lemonsqueezy.webhook import LemonSqueezyProvider, sign

SAMPLES = Path(lemonsqueezy.__file__).parent / "samples"
SECRET = "my-store-signing-secret"
NOW = 1_750_000_000.0
BODY = (SAMPLES / "subscription_created.json").read_bytes()


def signed(body: bytes = BODY, secret: str = SECRET) -> dict[str, str]:
    return {"x-signature": sign(body, secret), "content-type": "application/json",
            "x-event-name": "subscription_created"}


def test_sign_is_the_hex_hmac_sha256_of_the_raw_body() -> None:
    # Lemon Squeezy's documented recipe (docs.lemonsqueezy.com/help/webhooks/signing-requests), written out: Node's
    # crypto.createHmac("sha256", secret).update(rawBody).digest("hex").
    body = b'{"meta":{"event_name":"order_created"},"data":{"type":"orders","id":"1"}}'
    assert sign(body, "secret123") == hmac.new(b"secret123", body, hashlib.sha256).hexdigest()
    # Pinned, as `openssl dgst -sha256 -hmac secret123` computes it for this body, so a change of scheme shows.
    assert sign(body, "secret123") == "0289f4937c550e184c6b504830971c1c0510cb9f254e9bffabcc2ac5224dcd6f"


def test_verify_accepts_the_right_signature_whatever_the_clock() -> None:
    provider = LemonSqueezyProvider(SECRET)
    provider.verify(BODY, signed(), now=NOW)
    provider.verify(BODY, signed(), now=0.0)  # no timestamp is signed: nothing to be stale


def test_verify_accepts_an_upper_case_hex_signature() -> None:
    LemonSqueezyProvider(SECRET).verify(BODY, {"x-signature": sign(BODY, SECRET).upper()}, now=NOW)


def test_a_secret_with_a_comma_is_one_secret() -> None:
    config = lemonsqueezy.configure({"LEMONSQUEEZY_WEBHOOK_SECRET": "ab,cd"})
    assert config is not None
    lemonsqueezy.webhook(config).verify(BODY, signed(secret="ab,cd"), now=NOW)


REFUSED = [
    ("wrong secret", BODY, signed(secret="another-secret"), "does not match"),
    ("tampered body", BODY.replace(b'"quantity": 3', b'"quantity": 30'), signed(), "does not match"),
    ("missing header", BODY, {}, "missing X-Signature"),
    ("empty header", BODY, {"x-signature": "  "}, "missing X-Signature"),
    ("not hex", BODY, {"x-signature": "z" * 64}, "not a hex"),
    ("too short", BODY, {"x-signature": sign(BODY, SECRET)[:63]}, "not a hex"),
    ("base64 instead of hex", BODY, {"x-signature": "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="}, "not a hex"),
    ("sha1 length", BODY, {"x-signature": hashlib.sha1(BODY).hexdigest()}, "not a hex"),  # noqa: S324 - a wrong length
]


@pytest.mark.parametrize(("body", "headers", "message"), [case[1:] for case in REFUSED],
                         ids=[case[0] for case in REFUSED])
def test_verify_refuses(body: bytes, headers: dict[str, str], message: str) -> None:
    with pytest.raises(SignatureError, match=message) as caught:
        LemonSqueezyProvider(SECRET).verify(body, headers, NOW)
    assert SECRET not in str(caught.value) and sign(BODY, SECRET) not in str(caught.value)


def test_parse_builds_the_dedupe_key_and_reads_the_mode() -> None:
    event = LemonSqueezyProvider(SECRET).receive(BODY, signed(), NOW)
    assert event.id == "subscription_created/subscriptions/130001@2025-02-03T10:15:02.000000Z"
    assert event.type == "subscription_created"
    assert event.created == 1738577702.0
    assert (event.livemode, event.customer_id) == (True, "52000")
    assert event.payload["meta"]["custom_data"]["pendo_account_id"] == "acct-contract"


def test_a_redelivery_is_the_same_key_and_a_later_change_is_another() -> None:
    provider = LemonSqueezyProvider(SECRET)
    first = provider.parse(BODY)
    again = provider.parse(json.dumps(json.loads(BODY)).encode())  # same content, other whitespace
    payload = json.loads(BODY)
    payload["data"]["attributes"]["updated_at"] = "2025-02-03T11:00:00.000000Z"
    later = provider.parse(json.dumps(payload).encode())
    payload["meta"]["event_name"] = "subscription_updated"
    other_event_same_time = provider.parse(json.dumps(payload).encode())
    assert first.id == again.id
    assert len({first.id, later.id, other_event_same_time.id}) == 3


def test_test_mode_events_are_not_live() -> None:
    payload = json.loads(BODY)
    payload["meta"]["test_mode"] = True
    assert LemonSqueezyProvider(SECRET).parse(json.dumps(payload).encode()).livemode is False
    del payload["meta"]["test_mode"]
    assert LemonSqueezyProvider(SECRET).parse(json.dumps(payload).encode()).livemode is None


WEBHOOK_SAMPLES = sorted(path.stem for path in SAMPLES.glob("*.json") if not path.stem.startswith("api."))


@pytest.mark.parametrize("name", WEBHOOK_SAMPLES)
def test_every_sample_parses(name: str) -> None:
    body = (SAMPLES / f"{name}.json").read_bytes()
    event = LemonSqueezyProvider(SECRET).receive(body, signed(body), NOW)
    assert event.type == name.split(".")[0]
    assert event.livemode is True


def _deep(levels: int) -> bytes:
    return (b'{"meta":{"event_name":"x"},"data":{"type":"t","id":"1",'
            b'"attributes":{"updated_at":"2025-01-01T00:00:00Z"}},"n":' + b"[" * levels + b"]" * levels + b"}")


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "not JSON"),
    (b"[]", "not a JSON object"),
    (b'{"meta": {"event_name": "x", "n": Infinity}}', "not JSON"),
    (_deep(70), "deeper"),
    (b'{"data":{"type":"t","id":"1","attributes":{"updated_at":"2025-01-01T00:00:00Z"}}}', "meta.event_name"),
    (b'{"meta":{"event_name":"x"},"data":{"id":"1","attributes":{"updated_at":"2025-01-01T00:00:00Z"}}}', "data.type"),
    (b'{"meta":{"event_name":"x"},"data":{"type":"t","attributes":{"updated_at":"2025-01-01T00:00:00Z"}}}', "data.id"),
    (b'{"meta":{"event_name":"x"},"data":{"type":"t","id":"1","attributes":{}}}', "updated_at"),
    (b'{"meta":{"event_name":"x"},"data":{"type":"t","id":"1"}}', "updated_at"),
], ids=["not json", "array", "infinity", "too deep", "no meta", "no type", "no id", "no updated_at", "no attributes"])
def test_parse_refuses_what_is_not_a_webhook(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        LemonSqueezyProvider(SECRET).receive(body, signed(body), NOW)
