"""Recurly's `recurly-signature` verification and JSON webhook parsing, checked against Recurly's own test vectors."""

from __future__ import annotations

import json

import pytest

from bridge.errors import PayloadError, SignatureError
from bridge.providers.recurly.webhook import XML, RecurlyProvider, read_signature_header, sign

# Official vector: recurly/recurly-client-ruby spec/recurly/webhooks_spec.rb ("with notification older than five
# minutes"), the same secret and body as recurly/recurly-client-go webhook_test.go. Its header is a fixed,
# genuine signature from 2022-09-13, refused by default as out of date and accepted with an unbounded tolerance.
VECTOR_SECRET = "354fab5bd35f5a0d50845ee7e30165244468b13c2c343f104e4e730a59326d9d"
VECTOR_BODY = (b'{"id":"rjxwmwedwqug","object_type":"account","site_id":"qc326l1hl8k9","event_type":"created",'
               b'"event_time":"2022-09-13T21:18:40Z","account_code":"adfas23zzz14123"}')
VECTOR_HEADER = "1663103925004,ad24699f3beaa24c9af2cc7ada3ce4c835da0090194241b9d3add83d27f14bc3"
VECTOR_TIME = 1663103925.004
# The Go test's second secret: a rotation signs the same "{ts}.{body}" with both and sends both signatures.
GO_ROTATED_SECRET = "ade46dda4474b0ae57dec22d35b9cd526b260d235f7e200c1d93f156000fe396"

SECRET = "a" * 64
OLD_SECRET = "b" * 64
NOW = 1_750_000_000.0
NOW_MS = int(NOW * 1000)
BODY = json.dumps({"id": "sfake0sub001", "object_type": "subscription", "site_id": "qc326l1hl8k9",
                   "event_type": "canceled", "event_time": "2025-06-15T15:06:35Z",
                   "uuid": "6f1e2d3c4b5a69788796a5b4c3d2e1f0"}).encode()


def signed(body: bytes = BODY, secret: str = SECRET, timestamp_ms: int = NOW_MS) -> dict[str, str]:
    return {"recurly-signature": f"{timestamp_ms},{sign(body, timestamp_ms, secret)}",
            "content-type": "application/json"}


def test_recurly_verify_accepts_the_official_vector_at_its_time() -> None:
    RecurlyProvider((VECTOR_SECRET,)).verify(VECTOR_BODY, {"recurly-signature": VECTOR_HEADER}, now=VECTOR_TIME + 1)


def test_recurly_verify_refuses_the_official_vector_as_stale_today() -> None:
    with pytest.raises(SignatureError, match="old"):
        RecurlyProvider((VECTOR_SECRET,)).verify(VECTOR_BODY, {"recurly-signature": VECTOR_HEADER}, now=NOW)


def test_recurly_sign_reproduces_the_official_signature() -> None:
    assert sign(VECTOR_BODY, 1663103925004, VECTOR_SECRET) == VECTOR_HEADER.split(",")[1]


def test_recurly_verify_accepts_the_go_clients_two_signature_header_with_either_secret() -> None:
    header = f"{NOW_MS},{sign(VECTOR_BODY, NOW_MS, VECTOR_SECRET)},{sign(VECTOR_BODY, NOW_MS, GO_ROTATED_SECRET)}"
    for secret in (VECTOR_SECRET, GO_ROTATED_SECRET):
        RecurlyProvider((secret,)).verify(VECTOR_BODY, {"recurly-signature": header}, now=NOW)


def test_recurly_verify_accepts_a_dummy_signature_before_the_real_one() -> None:
    header = {"recurly-signature": f"{NOW_MS},de1ec7ab1e,{sign(BODY, NOW_MS, SECRET)}"}
    RecurlyProvider((SECRET,)).verify(BODY, header, now=NOW)


def test_recurly_verify_accepts_any_configured_secret_while_rotating() -> None:
    RecurlyProvider((SECRET, OLD_SECRET)).verify(BODY, signed(secret=OLD_SECRET), now=NOW)


REFUSED = [
    ("wrong secret", BODY, signed(secret=OLD_SECRET), NOW, "no signature matches"),
    ("tampered body", BODY + b" ", signed(), NOW, "no signature matches"),
    ("altered timestamp", BODY, {"recurly-signature": f"{NOW_MS + 1},{sign(BODY, NOW_MS, SECRET)}"}, NOW,
     "no signature matches"),
    ("seconds instead of ms", BODY, {"recurly-signature": f"{int(NOW)},{sign(BODY, int(NOW), SECRET)}"}, NOW, "old"),
    ("stale", BODY, signed(timestamp_ms=NOW_MS - 301_000), NOW, "old"),
    ("future", BODY, signed(timestamp_ms=NOW_MS + 301_000), NOW, "future"),
    ("missing header", BODY, {}, NOW, "missing recurly-signature"),
    ("empty header", BODY, {"recurly-signature": ""}, NOW, "missing recurly-signature"),
    ("timestamp not digits", BODY, {"recurly-signature": f"abc,{sign(BODY, NOW_MS, SECRET)}"}, NOW, "timestamp"),
    ("timestamp and signature glued", BODY, {"recurly-signature": f"{NOW_MS}{sign(BODY, NOW_MS, SECRET)}"}, NOW,
     "timestamp"),
    ("no signature", BODY, {"recurly-signature": f"{NOW_MS},"}, NOW, "no signature"),
    ("timestamp only", BODY, {"recurly-signature": f"{NOW_MS}"}, NOW, "no signature"),
    ("huge header", BODY, {"recurly-signature": f"{NOW_MS}," + "a" * 5000}, NOW, "too long"),
]


@pytest.mark.parametrize(("body", "headers", "now", "message"), [case[1:] for case in REFUSED],
                         ids=[case[0] for case in REFUSED])
def test_recurly_verify_refuses(body: bytes, headers: dict[str, str], now: float, message: str) -> None:
    with pytest.raises(SignatureError, match=message) as caught:
        RecurlyProvider((SECRET,)).verify(body, headers, now)
    assert SECRET not in str(caught.value)
    assert sign(BODY, NOW_MS, SECRET) not in str(caught.value)


@pytest.mark.parametrize(("body", "headers"), [
    (b'<?xml version="1.0" encoding="UTF-8"?><new_subscription_notification/>', {}),
    (b"  <canceled_subscription_notification/>", {"content-type": "application/json"}),
    (BODY, {"content-type": "application/xml; charset=utf-8"}),
], ids=["xml body", "xml body after spaces", "xml content type"])
def test_recurly_xml_webhooks_are_refused_with_the_way_out(body: bytes, headers: dict[str, str]) -> None:
    with pytest.raises(PayloadError, match="switch this endpoint to JSON") as caught:
        RecurlyProvider((SECRET,)).receive(body, headers, NOW)
    assert str(caught.value) == XML
    assert "not signed" in XML and "JSON" in XML


def test_recurly_parse_makes_a_dedupe_key_that_tells_events_of_one_object_apart() -> None:
    provider = RecurlyProvider((SECRET,))
    canceled = provider.receive(BODY, signed(), NOW)
    expired_body = BODY.replace(b'"canceled"', b'"expired"').replace(b"15:06:35", b"16:00:00")
    expired = provider.receive(expired_body, signed(expired_body), NOW)
    assert canceled.id == "subscription.canceled/sfake0sub001@2025-06-15T15:06:35Z"
    assert expired.id != canceled.id
    assert provider.receive(BODY, signed(timestamp_ms=NOW_MS + 60_000), NOW).id == canceled.id  # a redelivery
    assert canceled.type == "subscription.canceled"
    assert canceled.livemode is None and canceled.customer_id is None
    assert canceled.payload["uuid"] == "6f1e2d3c4b5a69788796a5b4c3d2e1f0"


def test_recurly_parse_reads_event_time_as_unix_seconds() -> None:
    event = RecurlyProvider((SECRET,)).parse(BODY)
    assert event.created == 1749999995.0  # 2025-06-15T15:06:35Z


def test_recurly_parse_takes_the_account_as_customer_on_account_events() -> None:
    event = RecurlyProvider((VECTOR_SECRET,)).parse(VECTOR_BODY)
    assert (event.type, event.customer_id) == ("account.created", "rjxwmwedwqug")


def _deep(levels: int) -> bytes:
    return b'{"id":"x","object_type":"account","event_type":"created","event_time":"2025-01-01T00:00:00Z","n":' \
        + b"[" * levels + b"]" * levels + b"}"


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"id": NaN}', "not JSON"),
    (_deep(70), "deeper"),
    (b'{"object_type":"subscription","event_type":"created","event_time":"2025-01-01T00:00:00Z"}', "no id"),
    (b'{"id":"s","event_type":"created","event_time":"2025-01-01T00:00:00Z"}', "no object_type"),
    (b'{"id":"s","object_type":"subscription","event_time":"2025-01-01T00:00:00Z"}', "no event_type"),
    (b'{"id":"s","object_type":"subscription","event_type":"created","event_time":"yesterday"}', "event_time"),
    (b'{"id":"s","object_type":"subscription","event_type":"created"}', "event_time"),
], ids=["not json", "array", "nan", "too deep", "no id", "no object type", "no event type", "bad time", "no time"])
def test_recurly_parse_refuses_what_is_not_a_json_webhook(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message):
        RecurlyProvider((SECRET,)).receive(body, signed(body), NOW)


def test_recurly_parse_refuses_a_key_the_store_cannot_hold() -> None:
    body = json.dumps({"id": "s" * 300, "object_type": "subscription", "event_type": "created",
                       "event_time": "2025-01-01T00:00:00Z"}).encode()
    with pytest.raises(PayloadError, match="event id"):
        RecurlyProvider((SECRET,)).parse(body)


def test_recurly_read_signature_header_keeps_every_signature() -> None:
    assert read_signature_header("1700000000000, s1 ,s2") == (1700000000000, ("s1", "s2"))
