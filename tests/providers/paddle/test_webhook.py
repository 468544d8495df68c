"""Paddle-Signature verification and notification parsing, checked against Paddle's own test vectors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.errors import PayloadError, SignatureError
from bridge.providers.paddle.webhook import (
    CLASSIC,
    MAX_DEPTH,
    PaddleProvider,
    SignatureHeader,
    read_signature_header,
    sign,
)

VECTORS = Path(__file__).parent / "vectors"

# Official vectors: PaddleHQ/paddle-python-sdk, tests/Unit/Notification/test_Verifier.py (commit 48c8cc04),
# whose bodies are tests/Unit/Notification/_fixtures/{standard,special_chars}_payload.json read with the
# trailing newline stripped (`.strip()` in the SDK's test).
VECTOR_SECRET = "pdl_ntfset_01hs0t3tw21j988db1pam5xg8m_GrOWLNef+vmtjJYq4mSnHNzvc8uWoJ1I"
OFFICIAL = [
    ("standard_payload", "ts=1710498758;h1=558bf93944dbeb4790c7a8af6cb2ea435c8ca9c8396aafc1a4e37424ac132744"),
    ("special_chars_payload", "ts=1710498288;h1=38219b3ba1578184e625c29d201a27cd25bd69e2ec9c3ab87dcb90d87ff73a41"),
]
# The same test file's header-integrity case: three secrets, a dummy h1 first, only the third secret matches.
ROTATION_SECRETS = (
    "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_TjIG2BXbm83HPXqNfziwe506sBEdqL/4",
    "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_vB/yIOnTOCWIvpBadM5jzBZPHc7OmdSo",
    "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_WvRO0eL4Bj9rgYYIBZY6wZhG4EHy9jzh",
)
ROTATION_HEADER = "ts=1696195954;h1=dummy;h1=d96299976a6eb066f484d7fde011ac56fc32b38fc9940bc419d6e537fdc6ef02"

SECRET = "pdl_ntfset_01hzzzzzzzzzzzzzzzzzzzzzzz_primarySecretValue0000000000000"
OLD_SECRET = "pdl_ntfset_01hyyyyyyyyyyyyyyyyyyyyyyy_previousSecretValue00000000000"
NOW = 1_750_000_000
BODY = json.dumps({
    "event_id": "evt_01hv8x2a6d2tb3v6kq9r0e7b4c", "event_type": "subscription.created",
    "occurred_at": "2025-06-15T15:06:35.123456Z", "notification_id": "ntf_01hv8x2aaaaaaaaaaaaaaaaaaa",
    "data": {"id": "sub_01hv8x29kz0t586xy6zn1a62ny", "customer_id": "ctm_01hv6y1jedq4p1n0yqn5ba3ky4"},
}).encode()


def header(body: bytes = BODY, secret: str = SECRET, timestamp: int = NOW) -> dict[str, str]:
    return {"paddle-signature": f"ts={timestamp};h1={sign(body, timestamp, secret)}"}


@pytest.mark.parametrize(("fixture", "signature"), OFFICIAL, ids=[name for name, _ in OFFICIAL])
def test_paddle_verify_accepts_the_official_vectors(fixture: str, signature: str) -> None:
    body = (VECTORS / f"{fixture}.json").read_bytes().strip()
    timestamp = read_signature_header(signature).timestamp
    PaddleProvider((VECTOR_SECRET,)).verify(body, {"paddle-signature": signature}, now=timestamp + 1)


@pytest.mark.parametrize(("fixture", "signature"), OFFICIAL, ids=[name for name, _ in OFFICIAL])
def test_paddle_verify_refuses_the_official_vector_with_its_trailing_newline(fixture: str, signature: str) -> None:
    body = (VECTORS / f"{fixture}.json").read_bytes()
    assert body.endswith(b"\n")
    with pytest.raises(SignatureError):
        PaddleProvider((VECTOR_SECRET,)).verify(body, {"paddle-signature": signature}, now=1710498758)


def test_paddle_verify_accepts_the_official_rotation_vector_against_any_secret() -> None:
    PaddleProvider(ROTATION_SECRETS).verify(b"hello-world", {"paddle-signature": ROTATION_HEADER}, now=1696195954)
    with pytest.raises(SignatureError, match="no h1 signature matches"):
        PaddleProvider(ROTATION_SECRETS[:2]).verify(b"hello-world", {"paddle-signature": ROTATION_HEADER},
                                                     now=1696195954)


def test_paddle_sign_matches_the_official_vector() -> None:
    body = (VECTORS / "standard_payload.json").read_bytes().strip()
    assert sign(body, 1710498758, VECTOR_SECRET) == OFFICIAL[0][1].split("h1=")[1]


def test_paddle_verify_accepts_the_right_secret() -> None:
    PaddleProvider((SECRET,)).verify(BODY, header(), now=NOW)


def test_paddle_verify_accepts_a_rotated_secret() -> None:
    PaddleProvider((SECRET, OLD_SECRET)).verify(BODY, header(secret=OLD_SECRET), now=NOW)


def test_paddle_verify_accepts_any_h1_in_the_header() -> None:
    ours = sign(BODY, NOW, SECRET)
    PaddleProvider((SECRET,)).verify(BODY, {"paddle-signature": f"ts={NOW};h1={'0' * 64};h1={ours}"}, now=NOW)


def test_paddle_verify_is_lenient_about_unknown_header_keys() -> None:
    ours = sign(BODY, NOW, SECRET)
    value = f"ts={NOW};h2=somethingnew;h1={ours};future"
    PaddleProvider((SECRET,)).verify(BODY, {"paddle-signature": value}, now=NOW)


@pytest.mark.parametrize(("name", "body", "headers", "now", "error", "message"), [
    ("wrong secret", BODY, header(secret="pdl_ntfset_other"), NOW, SignatureError, "no h1 signature matches"),
    ("tampered body", BODY.replace(b"sub_01", b"sub_02"), header(), NOW, SignatureError, "no h1 signature"),
    ("stale", BODY, header(timestamp=NOW - 301), NOW, SignatureError, "more than 300 s old"),
    ("future", BODY, header(timestamp=NOW + 301), NOW, SignatureError, "in the future"),
    ("missing header", BODY, {}, NOW, SignatureError, "missing Paddle-Signature"),
    ("empty header", BODY, {"paddle-signature": ""}, NOW, SignatureError, "missing Paddle-Signature"),
    ("no ts", BODY, {"paddle-signature": f"h1={sign(BODY, NOW, SECRET)}"}, NOW, SignatureError, "no valid timestamp"),
    ("ts not digits", BODY, {"paddle-signature": "ts=12a;h1=00"}, NOW, SignatureError, "no valid timestamp"),
    ("ts negative", BODY, {"paddle-signature": "ts=-5;h1=00"}, NOW, SignatureError, "no valid timestamp"),
    ("two ts", BODY, {"paddle-signature": f"ts={NOW};ts={NOW};h1=00"}, NOW, SignatureError, "more than one"),
    ("no h1", BODY, {"paddle-signature": f"ts={NOW}"}, NOW, SignatureError, "no h1 signature"),
    ("empty h1", BODY, {"paddle-signature": f"ts={NOW};h1="}, NOW, SignatureError, "no h1 signature"),
    ("garbage", BODY, {"paddle-signature": "garbage"}, NOW, SignatureError, "no valid timestamp"),
    ("comma separated", BODY, {"paddle-signature": f"ts={NOW},h1={sign(BODY, NOW, SECRET)}"}, NOW,
     SignatureError, "no valid timestamp"),
    ("non-ascii h1", BODY, {"paddle-signature": f"ts={NOW};h1=\u00e9\u00e9"}, NOW, SignatureError, "no h1 signature"),
    ("not utf-8", b"\xff\xfe", header(b"\xff\xfe"), NOW, PayloadError, "not UTF-8"),
])
def test_paddle_verify_refuses(name: str, body: bytes, headers: dict[str, str], now: int,
                               error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as raised:
        PaddleProvider((SECRET,)).verify(body, headers, now=now)
    assert SECRET not in str(raised.value)
    assert sign(BODY, NOW, SECRET) not in str(raised.value)


def test_paddle_verify_uses_the_configured_tolerance() -> None:
    PaddleProvider((SECRET,), tolerance=5).verify(BODY, header(timestamp=NOW - 5), now=NOW)
    with pytest.raises(SignatureError, match="more than 5 s old"):
        PaddleProvider((SECRET,), tolerance=5).verify(BODY, header(timestamp=NOW - 6), now=NOW)


def test_paddle_verify_refuses_paddle_classic_with_a_message_naming_it() -> None:
    classic = b"alert_name=subscription_created&subscription_id=123&p_signature=c2lnbmF0dXJl"
    with pytest.raises(PayloadError) as raised:
        PaddleProvider((SECRET,)).verify(classic, {"content-type": "application/x-www-form-urlencoded"}, now=NOW)
    assert str(raised.value) == CLASSIC
    assert "Paddle Classic" in CLASSIC and "Paddle Billing" in CLASSIC
    with pytest.raises(PayloadError, match="Paddle Classic"):
        PaddleProvider((SECRET,)).parse(classic)


def test_read_signature_header_reads_ts_and_every_h1() -> None:
    assert read_signature_header(" ts = 17 ; h1=aa ;h1=bb") == SignatureHeader(17, ("aa", "bb"))


def test_paddle_parse_dedupes_on_event_id_and_times_by_occurred_at() -> None:
    event = PaddleProvider((SECRET,)).parse(BODY)
    assert event.id == "evt_01hv8x2a6d2tb3v6kq9r0e7b4c"
    assert event.type == "subscription.created"
    assert event.created == pytest.approx(datetime(2025, 6, 15, 15, 6, 35, 123456, tzinfo=UTC).timestamp())
    assert event.customer_id == "ctm_01hv6y1jedq4p1n0yqn5ba3ky4"
    assert event.livemode is None and event.provider == "paddle"
    assert event.payload["notification_id"] == "ntf_01hv8x2aaaaaaaaaaaaaaaaaaa"


def test_paddle_parse_same_event_replayed_keeps_its_id() -> None:
    payload = json.loads(BODY)
    replay = dict(payload, notification_id="ntf_01hv8x2bbbbbbbbbbbbbbbbbbb")
    first = PaddleProvider((SECRET,)).parse(BODY)
    second = PaddleProvider((SECRET,)).parse(json.dumps(replay).encode())
    assert first.id == second.id


def test_paddle_parse_official_vector_body_is_a_customer_event() -> None:
    event = PaddleProvider((VECTOR_SECRET,)).parse((VECTORS / "special_chars_payload.json").read_bytes())
    assert event.type == "customer.created"
    assert event.customer_id == "ctm_01hs0t94g83hs5jdw282ztqa4z"
    assert event.payload["data"]["name"] == "ÜÄÅåÖÜÄÅåÖ"


def _nested(depth: int) -> bytes:
    inner = "1"
    for _ in range(depth - 1):
        inner = f"[{inner}]"
    return json.dumps({"event_id": "evt_1", "event_type": "x.y", "occurred_at": "2025-01-01T00:00:00Z",
                       "data": {}}).encode()[:-1] + f', "deep": {inner}}}'.encode()


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'"evt"', "not a JSON object"),
    (b'{"event_id": "evt_1", "event_type": "a.b", "occurred_at": "2025-01-01T00:00:00Z", "data": {"x": NaN}}',
     "not JSON"),
    (b'{"event_id": "evt_1", "event_type": "a.b", "occurred_at": "2025-01-01T00:00:00Z", "data": Infinity}',
     "not JSON"),
    (b'{"event_id": "evt_1", "event_type": "a.b", "occurred_at": "2025-01-01T00:00:00Z", "data": {"x": 1e400}}',
     "not JSON"),
    (b'{"event_id": "evt_1", "event_type": "a.b", "occurred_at": "2025-01-01T00:00:00Z", "data": {"x": -Infinity}}',
     "not JSON"),
    (b'{"event_type": "a.b", "occurred_at": "2025-01-01T00:00:00Z", "data": {}}', "no event_id"),
    (b'{"event_id": 5, "event_type": "a.b", "occurred_at": "2025-01-01T00:00:00Z", "data": {}}', "no event_id"),
    (b'{"event_id": "evt_1", "occurred_at": "2025-01-01T00:00:00Z", "data": {}}', "no event_type"),
    (b'{"event_id": "evt_1", "event_type": "a.b", "data": {}}', "occurred_at"),
    (b'{"event_id": "evt_1", "event_type": "a.b", "occurred_at": "2025-01-01T00:00:00", "data": {}}', "occurred_at"),
    (b'{"event_id": "evt_1", "event_type": "a.b", "occurred_at": 1735689600, "data": {}}', "occurred_at"),
    (b'{"event_id": "evt_1", "event_type": "a.b", "occurred_at": "2025-01-01T00:00:00Z"}', "data is not an object"),
    (b'{"event_id": "evt_1", "event_type": "a.b", "occurred_at": "2025-01-01T00:00:00Z", "data": []}',
     "data is not an object"),
    (b'{"event_id": "evt_1", "event_type": "a.b", "occurred_at": "2200-01-01T00:00:00Z", "data": {}}',
     "between 1970 and 2100"),
    (b'{"event_id": "evt\\u0000", "event_type": "a.b", "occurred_at": "2025-01-01T00:00:00Z", "data": {}}',
     "control character"),
    (_nested(MAX_DEPTH + 1), "deeper than 64"),
    (b"[" * 100_000 + b"]" * 100_000, "deeper than 64"),
])
def test_paddle_parse_refuses(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        PaddleProvider((SECRET,)).parse(body)


def test_paddle_parse_accepts_a_body_just_within_the_depth_limit() -> None:
    event = PaddleProvider((SECRET,)).parse(_nested(MAX_DEPTH))
    assert event.id == "evt_1"
