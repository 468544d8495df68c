"""Standard Webhooks: the official vector, the accept/reject table, and parsing with the id from the headers."""

from __future__ import annotations

import base64
import json

import pytest

from bridge.errors import PayloadError, SignatureError
from bridge.providers.standard.config import decode_secret
from bridge.providers.standard.webhook import StandardProvider, read_headers, sign

# The official vector: standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py,
# test_sign_function (the same key, id, time, payload and expected signature).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_PAYLOAD = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

KEY = decode_secret(VECTOR_SECRET, "STANDARD_WEBHOOK_SECRET")
OTHER_KEY = decode_secret("whsec_" + base64.b64encode(b"another key of 24 bytes!").decode(), "X")
NOW = 1_750_000_000
BODY = json.dumps({"type": "contact.created", "timestamp": "2026-11-03T20:26:10Z",
                   "data": {"id": "c_1", "metadata": {"pendo_account_id": "acct-1"}}}).encode()


def headers(body: bytes = BODY, key: bytes = KEY, timestamp: int = NOW, msg_id: str = "msg_1") -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(key, msg_id, timestamp, body)}


def test_sign_matches_the_official_vector() -> None:
    assert sign(KEY, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_PAYLOAD) == VECTOR_SIGNATURE


def test_verify_accepts_the_official_vector() -> None:
    provider = StandardProvider((KEY,))
    provider.verify(VECTOR_PAYLOAD, {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TIMESTAMP),
                                     "webhook-signature": VECTOR_SIGNATURE}, now=VECTOR_TIMESTAMP)


def test_verify_refuses_the_official_vector_one_bit_off() -> None:
    # the library's own "invalid signature" case: the vector's last character changed
    provider = StandardProvider((KEY,))
    with pytest.raises(SignatureError, match="no v1 signature matches"):
        provider.verify(VECTOR_PAYLOAD, {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TIMESTAMP),
                                         "webhook-signature": VECTOR_SIGNATURE[:-2] + "A="}, now=VECTOR_TIMESTAMP)


@pytest.mark.parametrize(
    ("case", "body", "sent", "now", "accepted"),
    [
        ("right secret", BODY, headers(), NOW, True),
        ("wrong secret", BODY, headers(key=OTHER_KEY), NOW, False),
        ("tampered body", BODY + b" ", headers(), NOW, False),
        ("trailing newline", BODY + b"\n", headers(), NOW, False),
        ("300 s old", BODY, headers(timestamp=NOW - 300), NOW, True),
        ("301 s old", BODY, headers(timestamp=NOW - 301), NOW, False),
        ("300 s ahead", BODY, headers(timestamp=NOW + 300), NOW, True),
        ("301 s ahead", BODY, headers(timestamp=NOW + 301), NOW, False),
        ("id changed after signing", BODY, {**headers(), "webhook-id": "msg_2"}, NOW, False),
        ("timestamp changed after signing", BODY, {**headers(), "webhook-timestamp": str(NOW + 1)}, NOW, False),
    ],
)
def test_verify_table(case: str, body: bytes, sent: dict[str, str], now: int, accepted: bool) -> None:
    provider = StandardProvider((KEY,))
    if accepted:
        provider.verify(body, sent, now)
    else:
        with pytest.raises(SignatureError):
            provider.verify(body, sent, now)


def test_verify_accepts_any_configured_secret_while_rolling() -> None:
    provider = StandardProvider((OTHER_KEY, KEY))
    provider.verify(BODY, headers(key=KEY), NOW)
    provider.verify(BODY, headers(key=OTHER_KEY), NOW)


def test_verify_accepts_one_matching_entry_among_several() -> None:
    good = headers()
    bad = sign(OTHER_KEY, "msg_1", NOW, BODY)
    sent = {**good, "webhook-signature": f"{bad} v2,{bad[3:]} {good['webhook-signature']} v1a,xyz"}
    StandardProvider((KEY,)).verify(BODY, sent, NOW)


def test_verify_reads_header_names_in_any_case() -> None:
    sent = {name.title(): value for name, value in headers().items()}
    StandardProvider((KEY,)).verify(BODY, sent, NOW)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"webhook-id": ""}, "missing webhook-id"),
        ({"webhook-timestamp": ""}, "missing webhook-timestamp"),
        ({"webhook-signature": ""}, "missing webhook-signature"),
        ({"webhook-timestamp": "1750000000.5"}, "not a unix time"),
        ({"webhook-timestamp": "-1"}, "not a unix time"),
        ({"webhook-timestamp": "9" * 13}, "not a unix time"),
        ({"webhook-signature": "v1"}, "malformed"),
        ({"webhook-signature": "v1,"}, "malformed"),
        ({"webhook-signature": "v1,not base64!"}, "malformed|not base64"),
        ({"webhook-signature": "v1,%%%%"}, "not base64"),
        ({"webhook-signature": "v2,AAAA"}, "no v1 signature"),
        ({"webhook-id": "msg\n1"}, "not a message id"),
        ({"webhook-id": "m" * 256}, "not a message id"),
    ],
)
def test_verify_refuses_malformed_headers(changes: dict[str, str], message: str) -> None:
    sent = {**headers(), **changes}
    with pytest.raises(SignatureError, match=message):
        StandardProvider((KEY,)).verify(BODY, sent, NOW)


def test_refusals_never_quote_the_signature_or_the_key() -> None:
    sent = headers(key=OTHER_KEY)
    with pytest.raises(SignatureError) as refused:
        StandardProvider((KEY,)).verify(BODY, sent, NOW)
    text = str(refused.value)
    assert sent["webhook-signature"][3:] not in text and VECTOR_SECRET[6:] not in text
    assert "STANDARD_WEBHOOK_SECRET" in text


def test_parse_takes_the_id_from_the_header_and_the_time_from_the_body() -> None:
    event = StandardProvider((KEY,)).parse(BODY, headers())
    assert (event.provider, event.id, event.type) == ("standard", "msg_1", "contact.created")
    assert event.created == 1793737570.0  # 2026-11-03T20:26:10Z
    assert event.payload["data"]["id"] == "c_1"
    assert event.livemode is None


def test_parse_falls_back_to_the_header_time() -> None:
    body = json.dumps({"type": "ping", "data": {}}).encode()
    assert StandardProvider((KEY,)).parse(body, headers(body)).created == NOW


def test_receive_verifies_then_parses() -> None:
    provider = StandardProvider((KEY,))
    assert provider.receive(BODY, headers(), NOW).id == "msg_1"
    with pytest.raises(SignatureError):
        provider.receive(BODY, headers(key=OTHER_KEY), NOW)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"type": "a", "n": NaN}', "not JSON"),
        (b'{"type": "a", "n": Infinity}', "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b'{"data": {}}', "no type"),
        (b'{"type": 7}', "no type"),
        (b'{"type": "a", "timestamp": "yesterday"}', "not an ISO 8601 time"),
        (b'{"type": "a", "timestamp": "2150-01-01T00:00:00Z"}', "between 1970 and 2100"),
        (b'{"type": "a\\u0000b"}', "control character"),
        (b'{"type": "a", "d": ' + b"[" * 64 + b"]" * 64 + b"}", "deeper than 64"),
        (b"[" * 100_000 + b"]" * 100_000, "deeper than 64"),
    ],
)
def test_parse_refuses_bodies_that_are_not_events(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        StandardProvider((KEY,)).parse(body, headers(body))


def test_parse_accepts_64_levels() -> None:
    body = b'{"type": "a", "d": ' + b"[" * 63 + b"]" * 63 + b"}"
    assert StandardProvider((KEY,)).parse(body, headers(body)).type == "a"


def test_parse_without_headers_says_it_needs_them() -> None:
    with pytest.raises(PayloadError, match="webhook-id"):
        StandardProvider((KEY,)).parse(BODY)


def test_read_headers_keeps_the_message_id_and_time() -> None:
    signed = read_headers(headers())
    assert (signed.id, signed.timestamp, len(signed.signatures)) == ("msg_1", NOW, 1)
