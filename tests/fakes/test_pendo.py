"""The fake Pendo enforces its contract over real HTTP, and the client works against it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from bridge.errors import PendoAuthError, PendoTransient
from bridge.mapping.operations import TrackEvent
from bridge.pendo.client import PendoClient, track_payload
from bridge.settings import Settings
from tests.fakes.pendo import FakePendo

KEY = "fake-key.us"
SECRET = "fake-track-secret"
BULK = "/api/v1/metadata/account/custom/value"


@pytest.fixture
def fake() -> Iterator[FakePendo]:
    fields = {"account": {"billing_plan": "string"}}
    with FakePendo(KEY, SECRET, known_accounts={"acme"}, fields=fields) as pendo:
        yield pendo


@pytest.fixture
def client(fake: FakePendo) -> PendoClient:
    settings = Settings(
        pendo_integration_key=KEY,
        pendo_track_secret=SECRET,
        pendo_api_base=fake.url,
        pendo_data_base=fake.url,
    )
    return PendoClient(settings, timeout=5.0)


def post(fake: FakePendo, path: str, body: Any, key: str = KEY) -> requests.Response:
    return requests.post(fake.url + path, json=body, headers={"X-PENDO-INTEGRATION-KEY": key}, timeout=5)


def test_fake_checks_the_secret_of_each_endpoint(fake: FakePendo) -> None:
    assert post(fake, BULK, [], key=SECRET).status_code == 403
    assert post(fake, "/data/track", {}, key=KEY).status_code == 403
    assert post(fake, BULK, []).status_code == 200
    fake.set_auth_ok(False)
    assert post(fake, BULK, []).status_code == 403
    assert [r.status for r in fake.calls("/api/v1/metadata")] == [403, 200, 403]


def test_fake_reports_missing_ids_and_unknown_fields(client: PendoClient, fake: FakePendo) -> None:
    updates: list[tuple[str, dict[str, Any]]] = [
        ("acme", {"billing_plan": "pro"}),
        ("globex", {"billing_plan": "pro"}),
        ("acme", {"foo": 1}),
    ]
    result = client.send_metadata("account", updates)
    assert (result.total, result.updated, result.failed) == (3, 1, 2)
    assert result.missing == ["globex"]
    assert result.errors == [{"accountId": "acme", "error": "field 'foo' does not exist"}]
    assert result.unknown_fields(["billing_plan", "foo"]) == {"foo"}
    assert result.failed_ids() == {"globex", "acme"}
    assert fake.metadata_rows("account") == [{"accountId": "acme", "values": {"billing_plan": "pro"}}]
    assert fake.account_values("acme") == {"billing_plan": "pro"}


def test_fake_create_true_makes_ids_known(client: PendoClient, fake: FakePendo) -> None:
    assert client.send_metadata("account", [("globex", {"billing_plan": "pro"})], create=True).updated == 1
    assert client.send_metadata("account", [("globex", {"billing_plan": "team"})]).updated == 1
    assert fake.account_values("globex") == {"billing_plan": "team"}
    assert [r.query for r in fake.calls(BULK)] == [{"create": ["true"]}, {}]


def test_fake_schema_and_token(client: PendoClient, fake: FakePendo) -> None:
    assert client.verify_token().write_access
    client.create_fields("account", [("mrr", "number")])
    assert set(client.get_schema("account")) == {"billing_plan", "mrr"}
    assert client.send_metadata("account", [("acme", {"mrr": 49})]).ok


def test_fake_read_only_key_cannot_write(fake: FakePendo, client: PendoClient) -> None:
    fake.write_access = False
    assert not client.verify_token().write_access
    with pytest.raises(PendoAuthError):
        client.send_metadata("account", [("acme", {"billing_plan": "pro"})])


def test_fake_fail_next_with_retry_after(client: PendoClient, fake: FakePendo) -> None:
    fake.fail_next(1, status=429, retry_after=3, path_prefix="/api/v1/metadata")
    fake.fail_next(1, status=503)
    with pytest.raises(PendoTransient) as first:
        client.send_metadata("account", [("acme", {"billing_plan": "pro"})])
    assert (first.value.status, first.value.retry_after) == (429, 3.0)
    with pytest.raises(PendoTransient) as second:
        client.verify_token()
    assert (second.value.status, second.value.retry_after) == (503, None)
    assert client.send_metadata("account", [("acme", {"billing_plan": "pro"})]).ok


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"type": "identify", "event": "e", "visitorId": "v", "timestamp": 1},
        {"type": "track", "visitorId": "v", "timestamp": 1},
        {"type": "track", "event": "e", "timestamp": 1},
        {"type": "track", "event": "e", "visitorId": "v", "timestamp": "2024-01-01"},
        {"type": "track", "event": "e", "visitorId": "v", "timestamp": 1.5},
    ],
)
def test_fake_track_rejects_invalid_bodies(fake: FakePendo, body: Any) -> None:
    assert post(fake, "/data/track", body, key=SECRET).status_code == 400
    assert fake.track_events() == []


def test_fake_accepts_client_track_events(client: PendoClient, fake: FakePendo) -> None:
    payload, _ = track_payload(TrackEvent("invoice_paid", "v1", None, 1_700_000_000_000, {"amount": 49}))
    client.send_track(payload)
    assert fake.track_events() == [payload]
    assert fake.calls("/data/track")[0].headers["x-pendo-integration-key"] == SECRET


def test_fake_latency_delays_answers(fake: FakePendo, client: PendoClient) -> None:
    fake.latency = 0.2
    started = time.monotonic()
    client.verify_token()
    assert time.monotonic() - started >= 0.2


def test_fake_reports_each_rows_value_of_a_field_and_when_it_arrived(client: PendoClient, fake: FakePendo) -> None:
    before = time.time()
    client.send_metadata("account", [("acme", {"billing_plan": "pro"})])
    changed = time.time()
    client.send_metadata("account", [("acme", {"billing_plan": "team"})])
    client.send_metadata("account", [("acme", {"billing_plan": "team"})])  # the same value: not a change
    answer = requests.get(f"{fake.url}/_fake/field", params={"kind": "account", "name": "billing_plan"},
                          timeout=5).json()
    assert answer["acme"]["value"] == "team"
    assert before <= changed <= answer["acme"]["changed_at"] <= fake.requests[-1].time
