"""Chargebee's webhook: Basic credentials checked in constant time, events parsed into `Event`.

Chargebee signs nothing, so there is no signature vector. The fixed vectors are RFC 7617's own example
(section 2: user "Aladdin", password "open sesame" → `QWxhZGRpbjpvcGVuIHNlc2FtZQ==`) and the cases of
Chargebee's official Node library's validator (chargebee/chargebee-node `test/webhook.test.ts`,
"BasicAuthValidator": `testuser:testpass` accepted, `wrong:wrong` refused, no header, `Bearer token`,
`Basic invalid!!!`).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from bridge.errors import PayloadError, SignatureError
from bridge.providers.chargebee.webhook import (
    MAX_DEPTH,
    ChargebeeProvider,
    authorization,
    basic_credentials,
)

SAMPLES = Path(__file__).resolve().parents[3] / "bridge" / "providers" / "chargebee" / "samples"
NOW = 1_764_460_800.0
BODY = (SAMPLES / "subscription_created.json").read_bytes()


def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


def test_chargebee_authorization_matches_rfc7617_example() -> None:
    assert authorization("Aladdin", "open sesame") == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    assert basic_credentials("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==") == b"Aladdin:open sesame"


def test_chargebee_verify_accepts_rfc7617_example() -> None:
    ChargebeeProvider("Aladdin", "open sesame").verify(
        BODY, {"authorization": "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="}, now=NOW)


def test_chargebee_verify_accepts_official_library_case() -> None:
    ChargebeeProvider("testuser", "testpass").verify(BODY, {"authorization": basic(b"testuser:testpass")}, now=NOW)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        pytest.param(None, "missing Authorization", id="no header (official)"),
        pytest.param("", "missing Authorization", id="empty header"),
        pytest.param(basic(b"wrong:wrong"), "do not match", id="wrong credentials (official)"),
        pytest.param("Bearer token", "not Basic", id="other scheme (official)"),
        pytest.param("Basic invalid!!!", "not base64", id="not base64 (official)"),
        pytest.param("Basic " + base64.b64encode(b"testuser").decode(), "no ':'", id="no colon"),
        pytest.param("Basic", "no .:.", id="scheme only"),
        pytest.param(basic(b"testuser:testpas"), "do not match", id="password one character short"),
        pytest.param(basic(b"testuser:testpass "), "do not match", id="password with a trailing space"),
        pytest.param(basic(b"TESTUSER:testpass"), "do not match", id="username in another case"),
        pytest.param(basic(b"testuser:testpass:x"), "do not match", id="extra colon part"),
        pytest.param(basic(b"testuser") + basic(b":testpass")[6:], "not base64", id="two tokens glued"),
        pytest.param("Basic " + "A" * 5000, "too long", id="over-long header"),
    ],
)
def test_chargebee_verify_rejects(header: str | None, reason: str) -> None:
    headers = {} if header is None else {"authorization": header}
    with pytest.raises(SignatureError, match=reason) as raised:
        ChargebeeProvider("testuser", "testpass").verify(BODY, headers, now=NOW)
    assert "testpass" not in str(raised.value)


def test_chargebee_verify_scheme_is_case_insensitive() -> None:
    header = "basic " + basic(b"testuser:testpass")[6:]
    ChargebeeProvider("testuser", "testpass").verify(BODY, {"authorization": header}, now=NOW)


def test_chargebee_verify_password_may_contain_colon_and_comma() -> None:
    """The password is taken whole (RFC 7617 splits at the first colon; there is no secret list)."""
    provider = ChargebeeProvider("hooks", "p:a,s")
    provider.verify(BODY, {"authorization": basic(b"hooks:p:a,s")}, now=NOW)
    with pytest.raises(SignatureError):
        provider.verify(BODY, {"authorization": basic(b"hooks:p")}, now=NOW)


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_chargebee_verify_accepts_non_ascii_credentials_in_either_charset(encoding: str) -> None:
    ChargebeeProvider("hooks", "pässwörd").verify(BODY, {"authorization": basic("hooks:pässwörd".encode(encoding))},
                                                  now=NOW)


def test_chargebee_verify_has_no_time_tolerance() -> None:
    """Chargebee sends no timestamp: a replay years later passes the credential check (documented risk)."""
    ChargebeeProvider("testuser", "testpass").verify(BODY, {"authorization": basic(b"testuser:testpass")},
                                                     now=NOW + 10 * 365 * 86400)


def test_chargebee_verify_body_is_not_authenticated() -> None:
    """A tampered body with the right credentials passes: the API re-fetch is the only content check."""
    tampered = BODY.replace(b'"status": "active"', b'"status": "cancelled"')
    assert tampered != BODY
    ChargebeeProvider("testuser", "testpass").verify(tampered, {"authorization": basic(b"testuser:testpass")},
                                                     now=NOW)


def test_chargebee_verify_refuses_non_utf8_body() -> None:
    with pytest.raises(PayloadError, match="UTF-8"):
        ChargebeeProvider("u", "p").verify(b"\xff\xfe", {"authorization": authorization("u", "p")}, now=NOW)


def test_chargebee_parse_reads_the_event() -> None:
    event = ChargebeeProvider("u", "p").parse(BODY)
    assert (event.provider, event.id, event.type) == ("chargebee", "ev_AzZTZgUpjQoEh2Mg", "subscription_created")
    assert event.created == 1_764_460_800.0
    assert event.livemode is None and event.connect_account is None
    assert event.api_version == "v2"
    assert event.customer_id == "AzZTZgUpjQn1x2Lk"
    assert event.payload == json.loads(BODY)


@pytest.mark.parametrize(
    ("name", "customer_id"),
    [("invoice_generated.json", "AzZTZgUpjQn1x2Lk"), ("payment_refunded.json", "AzZTZgUpjQn1x2Lk")],
)
def test_chargebee_parse_finds_customer_in_other_resources(name: str, customer_id: str) -> None:
    assert ChargebeeProvider("u", "p").parse((SAMPLES / name).read_bytes()).customer_id == customer_id


def _event(**changes: object) -> bytes:
    payload = {"id": "ev_1", "occurred_at": 1_700_000_000, "object": "event", "api_version": "v2",
               "event_type": "subscription_created", "content": {}}
    payload.update(changes)
    return json.dumps({k: v for k, v in payload.items() if v is not ...}).encode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"not json", "not JSON", id="not JSON"),
        pytest.param(b"[1, 2]", "no event id", id="a list"),
        pytest.param(b'{"id": "ev_1", "occurred_at": NaN}', "not JSON", id="NaN"),
        pytest.param(b'{"id": "ev_1", "occurred_at": Infinity}', "not JSON", id="Infinity"),
        pytest.param(_event(id=...), "no event id", id="no id"),
        pytest.param(_event(id=7), "no event id", id="numeric id"),
        pytest.param(_event(event_type=...), "no event_type", id="no event_type"),
        pytest.param(_event(content=...), "no content", id="no content"),
        pytest.param(_event(content=[]), "no content", id="content not an object"),
        pytest.param(_event(object="subscription"), "not 'event'", id="another object"),
        pytest.param(_event(occurred_at=...), "occurred_at", id="no occurred_at"),
        pytest.param(_event(occurred_at="1700000000"), "occurred_at", id="occurred_at as text"),
        pytest.param(_event(occurred_at=True), "occurred_at", id="occurred_at boolean"),
        pytest.param(_event(occurred_at=10**400), "occurred_at", id="occurred_at huge"),
        pytest.param(_event(occurred_at=5_000_000_000), "created time", id="occurred_at after 2100"),
        pytest.param(_event(id="ev_" + "x" * 300), "id must have", id="id too long"),
        pytest.param(_event(event_type="a\nb"), "control character", id="type with newline"),
    ],
)
def test_chargebee_parse_rejects(body: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        ChargebeeProvider("u", "p").parse(body)


def test_chargebee_parse_accepts_event_without_object_field() -> None:
    """Chargebee's official library's own test bodies omit `object`; the event is still read."""
    assert ChargebeeProvider("u", "p").parse(_event(object=...)).id == "ev_1"


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100_000])
def test_chargebee_parse_rejects_deep_nesting(depth: int) -> None:
    body = b'{"id": "ev_1", "content": ' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(PayloadError, match="deeper"):
        ChargebeeProvider("u", "p").parse(body)
