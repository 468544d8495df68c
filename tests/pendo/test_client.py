"""Unit tests of the Pendo client (against `responses`) and of its pure payload rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from email.utils import formatdate

import pytest
import requests
import responses
from responses import matchers

from bridge.errors import ConfigError, PendoAuthError, PendoError, PendoTransient
from bridge.mapping.operations import TrackEvent
from bridge.pendo.client import (
    TRACK_MAX_AGE_MS,
    BulkResult,
    PendoClient,
    TokenStatus,
    compact_json,
    is_expired,
    metadata_values,
    parse_bulk_result,
    parse_retry_after,
    track_payload,
)
from bridge.settings import Settings

KEY = "ikey-0123456789abcdef.us"
SECRET = "tsecret-fedcba9876543210"
API = "https://api.pendo.test"
DATA = "https://data.pendo.test"
NOW = 1_700_000_000.0
BULK = f"{API}/api/v1/metadata/account/custom/value"


@pytest.fixture
def settings() -> Settings:
    return Settings(
        pendo_integration_key=KEY, pendo_track_secret=SECRET, pendo_api_base=API, pendo_data_base=DATA
    )


@pytest.fixture
def client(settings: Settings) -> PendoClient:
    return PendoClient(settings, clock=lambda: NOW)


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def sent_json(rsps: responses.RequestsMock, index: int = 0) -> object:
    body = rsps.calls[index].request.body
    assert body is not None
    return json.loads(body)


def test_verify_token_sends_integration_key(client: PendoClient, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/api/v1/token/verify", json={"valid": True, "writeAccess": False},
             match=[matchers.header_matcher({"x-pendo-integration-key": KEY})])
    assert client.verify_token() == TokenStatus(valid=True, write_access=False)


@pytest.mark.parametrize("status", [401, 403])
def test_verify_token_bad_key_is_auth_error(
    client: PendoClient, rsps: responses.RequestsMock, status: int
) -> None:
    rsps.get(f"{API}/api/v1/token/verify", status=status, body="forbidden")
    with pytest.raises(PendoAuthError) as info:
        client.verify_token()
    assert info.value.status == status
    assert str(status) in str(info.value)


def test_send_metadata_builds_rows_without_create(client: PendoClient, rsps: responses.RequestsMock) -> None:
    rsps.post(BULK, json={"total": 2, "updated": 2, "failed": 0},
              match=[matchers.header_matcher({"x-pendo-integration-key": KEY,
                                              "Content-Type": "application/json"}),
                     matchers.query_param_matcher({})])
    result = client.send_metadata("account", [("acme", {"billing_plan": "pro"}), ("globex", {"mrr": 49})])
    assert sent_json(rsps) == [
        {"accountId": "acme", "values": {"billing_plan": "pro"}},
        {"accountId": "globex", "values": {"mrr": 49}},
    ]
    assert result == BulkResult(total=2, updated=2, failed=0)
    assert result.ok


def test_send_metadata_create_adds_query_and_visitor_rows(
    client: PendoClient, rsps: responses.RequestsMock
) -> None:
    rsps.post(f"{API}/api/v1/metadata/visitor/custom/value", json={"total": 1, "updated": 1, "failed": 0},
              match=[matchers.query_param_matcher({"create": "true"})])
    client.send_metadata("visitor", [("v1", {"plan": "pro"})], create=True)
    assert sent_json(rsps) == [{"visitorId": "v1", "values": {"plan": "pro"}}]


def test_send_metadata_nothing_to_send_makes_no_request(client: PendoClient) -> None:
    with responses.RequestsMock():
        assert client.send_metadata("account", []) == BulkResult()


def test_send_metadata_rejects_unknown_kind_and_oversized_batch(client: PendoClient) -> None:
    with pytest.raises(ValueError, match="kind"):
        client.send_metadata("company", [("a", {})])
    with pytest.raises(ValueError, match="1000"):
        client.send_metadata("account", [(str(i), {}) for i in range(1001)])


def test_send_metadata_200_with_failures_is_parsed(client: PendoClient, rsps: responses.RequestsMock) -> None:
    errors = [{"accountId": "globex", "error": "field 'billing_plan' does not exist"}]
    rsps.post(BULK, json={"total": 3, "updated": 1, "failed": 2, "missing": ["initech"], "errors": errors})
    result = client.send_metadata(
        "account", [("acme", {"mrr": 1}), ("globex", {"billing_plan": "x"}), ("initech", {"mrr": 2})]
    )
    assert (result.total, result.updated, result.failed) == (3, 1, 2)
    assert result.missing == ["initech"]
    assert not result.ok
    assert result.failed_ids() == {"globex", "initech"}
    assert result.unknown_fields(["billing_plan", "mrr"]) == {"billing_plan"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, BulkResult()),
        (None, BulkResult()),
        (["nope"], BulkResult()),
        ({"total": 2, "updated": "2", "failed": None}, BulkResult(total=2)),
        ({"missing": [7], "errors": "boom"}, BulkResult(missing=["7"], errors=["boom"])),
    ],
)
def test_parse_bulk_result_is_lenient(body: object, expected: BulkResult) -> None:
    assert parse_bulk_result(body) == expected


def test_send_metadata_non_json_200_counts_nothing_failed(
    client: PendoClient, rsps: responses.RequestsMock
) -> None:
    rsps.post(BULK, body="OK")
    result = client.send_metadata("account", [("acme", {"mrr": 1})])
    assert result.failed_ids() == set()


@pytest.mark.parametrize(
    ("errors", "sent", "expected"),
    [
        ([{"error": "field 'plan' does not exist"}], ["plan", "billing_plan"], {"plan"}),
        ([{"error": "field billing_plan does not exist"}], ["plan", "billing_plan"], {"billing_plan"}),
        ([{"accountId": "acme", "error": "bad value"}], ["error", "acme"], set()),
        (["unknown field: mrr"], ["mrr", "mr"], {"mrr"}),
        ([{"field": "seats", "reason": "type"}], ["seats"], {"seats"}),
    ],
)
def test_unknown_fields_matches_whole_words(
    errors: list[object], sent: list[str], expected: set[str]
) -> None:
    assert BulkResult(failed=1, errors=errors).unknown_fields(sent) == expected


def test_failed_ids_is_none_when_not_all_failures_are_named() -> None:
    assert BulkResult(total=3, failed=2, errors=[{"error": "oops"}], missing=["a"]).failed_ids() is None
    assert BulkResult(total=3, failed=1, errors=[{"visitorId": "v"}]).failed_ids() == {"v"}


def test_send_track_uses_track_secret_not_integration_key(
    client: PendoClient, rsps: responses.RequestsMock
) -> None:
    rsps.post(f"{DATA}/data/track", status=202, body="whatever",
              match=[matchers.header_matcher({"x-pendo-integration-key": SECRET})])
    payload = {"type": "track", "event": "e", "visitorId": "v", "timestamp": 1, "context": {}}
    client.send_track(payload)
    assert sent_json(rsps) == payload
    assert KEY not in str(rsps.calls[0].request.headers)


def test_send_track_without_secret_is_config_error(settings: Settings) -> None:
    no_secret = PendoClient(Settings(pendo_integration_key=KEY, pendo_data_base=DATA))
    with pytest.raises(ConfigError, match="PENDO_TRACK_EVENT_SECRET"):
        no_secret.send_track({})


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, PendoAuthError),
        (403, PendoAuthError),
        (408, PendoTransient),
        (409, PendoTransient),
        (429, PendoTransient),
        (500, PendoTransient),
        (502, PendoTransient),
        (503, PendoTransient),
        (400, PendoError),
        (404, PendoError),
        (422, PendoError),
    ],
)
def test_status_maps_to_error(
    client: PendoClient, rsps: responses.RequestsMock, status: int, error: type[PendoError]
) -> None:
    rsps.post(BULK, status=status, body=f"failure {status}")
    with pytest.raises(PendoError) as info:
        client.send_metadata("account", [("acme", {"mrr": 1})])
    assert type(info.value) is error
    assert info.value.status == status
    assert f"{status}" in str(info.value) and f"failure {status}" in str(info.value)


def test_retry_after_delta_seconds(client: PendoClient, rsps: responses.RequestsMock) -> None:
    rsps.post(BULK, status=429, headers={"Retry-After": "7"})
    with pytest.raises(PendoTransient) as info:
        client.send_metadata("account", [("acme", {"mrr": 1})])
    assert info.value.retry_after == 7.0


def test_retry_after_http_date(client: PendoClient, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{DATA}/data/track", status=503, headers={"Retry-After": formatdate(NOW + 30, usegmt=True)})
    with pytest.raises(PendoTransient) as info:
        client.send_track({"type": "track"})
    assert info.value.retry_after == 30.0


def test_transient_without_retry_after_has_none(client: PendoClient, rsps: responses.RequestsMock) -> None:
    rsps.post(BULK, status=429)
    with pytest.raises(PendoTransient) as info:
        client.send_metadata("account", [("acme", {"mrr": 1})])
    assert info.value.retry_after is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("120", 120.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("-3", None),
        ("soon", None),
        (formatdate(NOW + 90, usegmt=True), 90.0),
        (formatdate(NOW - 90, usegmt=True), 0.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize("status", [400, 403, 429, 500])
def test_error_messages_never_contain_secrets(
    client: PendoClient, rsps: responses.RequestsMock, status: int
) -> None:
    rsps.post(BULK, status=status, body=f"bad key {KEY} " + "x" * 1000)
    rsps.post(f"{DATA}/data/track", status=status, body=f"bad secret {SECRET}")
    for call in (lambda: client.send_metadata("account", [("a", {})]), lambda: client.send_track({})):
        with pytest.raises(PendoError) as info:
            call()
        assert KEY not in str(info.value) and SECRET not in str(info.value)
        assert len(str(info.value)) < 300 + 150


def test_connection_error_is_retried_once(client: PendoClient, rsps: responses.RequestsMock) -> None:
    rsps.post(BULK, body=requests.ConnectionError("reset"))
    rsps.post(BULK, json={"total": 1, "updated": 1, "failed": 0})
    assert client.send_metadata("account", [("acme", {"mrr": 1})]).updated == 1
    assert len(rsps.calls) == 2


def test_repeated_connection_error_is_transient(client: PendoClient, rsps: responses.RequestsMock) -> None:
    rsps.post(BULK, body=requests.ConnectionError(f"refused {KEY}"))
    with pytest.raises(PendoTransient) as info:
        client.send_metadata("account", [("acme", {"mrr": 1})])
    assert len(rsps.calls) == 2
    assert info.value.status is None and KEY not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_timeout_is_transient_and_not_retried(client: PendoClient, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{DATA}/data/track", body=requests.ReadTimeout("slow"))
    with pytest.raises(PendoTransient):
        client.send_track({"type": "track"})
    assert len(rsps.calls) == 1


def test_get_schema_returns_custom_group(client: PendoClient, rsps: responses.RequestsMock) -> None:
    descriptor = {"type": "string", "displayName": "Plan", "isHidden": False, "isDeleted": False}
    rsps.get(f"{API}/api/v1/metadata/schema/account",
             json={"agent": {"name": {}}, "custom": {"billing_plan": descriptor}})
    assert client.get_schema("account") == {"billing_plan": descriptor}


def test_get_schema_without_custom_group_is_empty(client: PendoClient, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{API}/api/v1/metadata/schema/visitor", json={"agent": {}})
    assert client.get_schema("visitor") == {}


def test_create_fields_posts_descriptors(client: PendoClient, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{API}/api/v1/metadata/schema/account/custom", json={},
              match=[matchers.header_matcher({"x-pendo-integration-key": KEY})])
    client.create_fields("account", [("billing_plan", "string"), ("mrr", "number")])
    assert sent_json(rsps) == [
        {"name": "billing_plan", "displayname": "billing_plan", "type": "string"},
        {"name": "mrr", "displayname": "mrr", "type": "number"},
    ]


@pytest.mark.parametrize(("name", "field_type"), [("mrr", "integer"), ("9lives", "string"), ("a-b", "time")])
def test_create_fields_rejects_bad_fields(client: PendoClient, name: str, field_type: str) -> None:
    with pytest.raises(ValueError):
        client.create_fields("account", [(name, field_type)])


def event(**overrides: object) -> TrackEvent:
    fields: dict[str, object] = {
        "event": "invoice_paid", "visitor_id": "v1", "account_id": "acme", "timestamp": 1_700_000_000_000,
    }
    fields.update(overrides)
    return TrackEvent(**fields)  # type: ignore[arg-type]


def test_track_payload_shape() -> None:
    payload, warnings = track_payload(event(properties={"amount": 49.5, "currency": "usd"}))
    assert payload == {
        "type": "track", "event": "invoice_paid", "visitorId": "v1", "accountId": "acme",
        "timestamp": 1_700_000_000_000, "properties": {"amount": 49.5, "currency": "usd"}, "context": {},
    }
    assert warnings == []


def test_track_payload_omits_missing_account() -> None:
    payload, _ = track_payload(event(account_id=None))
    assert "accountId" not in payload


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("amount", True),
        ("_private", True),
        ("a" * 32, True),
        ("a" * 33, False),
        ("1st", False),
        ("has-dash", False),
        ("has space", False),
        ("é", False),
    ],
)
def test_track_payload_property_names(name: str, kept: bool) -> None:
    payload, warnings = track_payload(event(properties={name: 1}))
    assert (name in payload["properties"]) is kept
    assert (len(warnings) == 0) is kept


def test_track_payload_drops_nested_values() -> None:
    payload, warnings = track_payload(event(properties={"items": [1, 2], "ok": True}))
    assert payload["properties"] == {"ok": True}
    assert len(warnings) == 1 and "items" in warnings[0]


def test_track_payload_drops_largest_properties_until_512_bytes() -> None:
    properties = {"big": "x" * 400, "bigger": "y" * 450, "small": "s", "n": 3}
    payload, warnings = track_payload(event(properties=properties))
    assert payload["properties"] == {"big": "x" * 400, "small": "s", "n": 3}
    assert len(compact_json(payload["properties"])) <= 512
    assert len(warnings) == 1 and "bigger" in warnings[0]


def test_track_payload_budget_counts_utf8_bytes() -> None:
    properties = {"a": "é" * 200, "b": "é" * 60}  # 400 + 120 bytes of text: over budget together
    payload, warnings = track_payload(event(properties=properties))
    assert list(payload["properties"]) == ["b"] and len(warnings) == 1


def test_track_payload_warns_on_long_visitor_id() -> None:
    payload, warnings = track_payload(event(visitor_id="v" * 129))
    assert payload["visitorId"] == "v" * 129
    assert any("128 bytes" in w for w in warnings)


def test_is_expired_after_seven_days() -> None:
    now_ms = 1_700_000_000_000
    assert not is_expired(now_ms - TRACK_MAX_AGE_MS, now_ms)
    assert is_expired(now_ms - TRACK_MAX_AGE_MS - 1, now_ms)
    assert not is_expired(now_ms + 60_000, now_ms)


def test_metadata_values_truncates_long_text() -> None:
    values, warnings = metadata_values({"note": "n" * 1501, "plan": "pro", "mrr": 49})
    assert values == {"note": "n" * 1500, "plan": "pro", "mrr": 49}
    assert len(warnings) == 1 and "note" in warnings[0]
