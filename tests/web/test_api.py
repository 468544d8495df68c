"""The HTTP API through Flask's test client and a real SQLite file: keys, scopes, limits, answers, stored rows."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from bridge.store import db, keys
from bridge.store.db import make_engine, migrate
from bridge.store.schema import field_values, track_events
from bridge.web.app import create_app
from tests.conftest import make_settings

NOW = 1_790_000_000.0
NOW_MS = int(NOW * 1000)
DAY_MS = 86_400_000


class Api:
    """A test client with a key of each kind, and the engine to look at what was stored."""

    def __init__(self, tmp_path: Path, **overrides: Any):
        settings = make_settings(f"sqlite:///{tmp_path / 'bridge.db'}", **overrides)
        migrate(settings)
        self.engine: Engine = make_engine(settings)
        self.key = keys.create(self.engine, "app", (), NOW - 100)
        self.track_only = keys.create(self.engine, "events-only", ("track",), NOW - 100)
        self.client: FlaskClient = create_app(settings, clock=lambda: NOW).test_client()

    def post(self, path: str, body: Any, key: str | None = None, **headers: str) -> Any:
        auth = {"Authorization": f"Bearer {key or self.key}"} if key != "" else {}
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.client.post(path, data=data, headers={**auth, **headers})

    def rows(self, table: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return [dict(r) for r in connection.execute(select(table)).mappings()]


@pytest.fixture
def api(tmp_path: Path) -> Api:
    return Api(tmp_path)


def test_api_track_event_stored_as_pendo_payload_with_its_source(api: Api) -> None:
    answer = api.post("/v1/track", {"event": "Report Exported", "visitorId": "u-1", "accountId": "acme",
                                    "timestamp": "2026-09-21T14:13:10+01:00", "properties": {"format": "csv"}})
    assert (answer.status_code, answer.get_json()) == (202, {"accepted": 1, "duplicates": 0})
    [row] = api.rows(track_events)
    assert json.loads(row["payload"]) == {
        "type": "track", "event": "Report Exported", "visitorId": "u-1", "accountId": "acme",
        "timestamp": 1789996390000, "properties": {"format": "csv"}, "context": {}}
    assert (row["state"], row["source"], row["rule"]) == ("pending", "app", "api")
    assert row["event_id"].startswith("app:")


def test_api_track_default_timestamp_is_receipt_time(api: Api) -> None:
    api.post("/v1/track", [{"event": "A", "visitorId": "u"}, {"event": "B", "visitorId": "u"}])
    assert [r["timestamp_ms"] for r in api.rows(track_events)] == [NOW_MS, NOW_MS]


def test_api_track_message_id_and_idempotency_key_deduplicate_per_key(api: Api) -> None:
    first = api.post("/v1/track", [{"event": "A", "visitorId": "u", "messageId": "m1"},
                                   {"event": "A", "visitorId": "u", "messageId": "m1"}])
    assert first.get_json() == {"accepted": 1, "duplicates": 1}
    again = api.post("/v1/track", {"event": "A", "visitorId": "u", "messageId": "m1"})
    assert again.get_json() == {"accepted": 0, "duplicates": 1}
    other_key = api.post("/v1/track", {"event": "A", "visitorId": "u", "messageId": "m1"}, key=api.track_only)
    assert other_key.get_json() == {"accepted": 1, "duplicates": 0}  # another source's m1 is another event
    by_header = [api.post("/v1/track", {"event": "B", "visitorId": "u"}, **{"Idempotency-Key": "retry-7"})
                 for _ in range(2)]
    assert [a.get_json()["duplicates"] for a in by_header] == [0, 1]
    assert len(api.rows(track_events)) == 3


def test_api_idempotency_key_with_an_array_is_refused(api: Api) -> None:
    answer = api.post("/v1/track", [{"event": "B", "visitorId": "u"}], **{"Idempotency-Key": "k"})
    assert answer.status_code == 400
    assert answer.get_json()["problems"][0]["path"] == "header Idempotency-Key"


@pytest.mark.parametrize(("timestamp", "fragment"), [
    (NOW_MS - 7 * DAY_MS - 1000, "7-day window"),
    ("2026-09-01T00:00:00Z", "7-day window"),
    (NOW_MS + 301_000, "ahead"),
    ("2026-02-30T10:00:00Z", "not a valid date"),
])
def test_api_track_times_pendo_would_drop_or_that_cannot_be_are_refused(api: Api, timestamp: Any,
                                                                        fragment: str) -> None:
    answer = api.post("/v1/track", [{"event": "A", "visitorId": "u"}, {"event": "A", "visitorId": "u",
                                                                       "timestamp": timestamp}])
    assert answer.status_code == 400
    [problem] = answer.get_json()["problems"]
    assert problem["path"] == "$[1].timestamp" and fragment in problem["message"]
    assert api.rows(track_events) == []  # nothing of a refused body is stored


def test_api_track_six_days_old_and_slightly_ahead_are_accepted(api: Api) -> None:
    answer = api.post("/v1/track", [{"event": "A", "visitorId": "u", "timestamp": NOW_MS - 6 * DAY_MS},
                                    {"event": "A", "visitorId": "u", "timestamp": NOW_MS + 60_000}])
    assert answer.status_code == 202


def test_api_metadata_values_go_through_the_ordering_guard(api: Api) -> None:
    answer = api.post("/v1/metadata/accounts", [
        {"accountId": "acme", "values": {"seats": 5, "plan": "pro"}, "timestamp": NOW_MS - 1000},
        {"accountId": "acme", "values": {"seats": 3}, "timestamp": NOW_MS - 5000},  # older: loses
        {"accountId": "beta", "values": {"active": True}},
    ])
    assert answer.get_json() == {"accepted": 3, "duplicates": 0}
    values = {(r["entity_id"], r["field"]): (json.loads(r["value"]), r["source"]) for r in api.rows(field_values)}
    assert values == {("acme", "seats"): (5, "app"), ("acme", "plan"): ("pro", "app"),
                      ("beta", "active"): (True, "app")}
    older = api.post("/v1/metadata/accounts", [{"accountId": "acme", "values": {"seats": 9},
                                                "timestamp": NOW_MS - 60_000}])
    assert older.get_json() == {"accepted": 0, "duplicates": 1}
    same = api.post("/v1/metadata/accounts", [{"accountId": "acme", "values": {"seats": 5, "plan": "pro"}}])
    assert same.get_json() == {"accepted": 0, "duplicates": 1}
    assert {r["field"]: json.loads(r["value"]) for r in api.rows(field_values) if r["entity_id"] == "acme"} == {
        "seats": 5, "plan": "pro"}


def test_api_metadata_later_entry_wins_a_tie(api: Api) -> None:
    api.post("/v1/metadata/visitors", [{"visitorId": "u", "values": {"role": "viewer"}},
                                       {"visitorId": "u", "values": {"role": "admin"}}])
    [row] = api.rows(field_values)
    assert (row["kind"], json.loads(row["value"])) == ("visitor", "admin")


def test_api_metadata_value_from_the_future_is_refused(api: Api) -> None:
    answer = api.post("/v1/metadata/accounts", [{"accountId": "a", "values": {"x": 1}, "timestamp": NOW_MS + 3600_000}])
    assert answer.status_code == 400 and answer.get_json()["problems"][0]["path"] == "$[0].timestamp"


@pytest.mark.parametrize(("key", "status"), [("", 401), ("brk_0123456789ab_wrong", 401), ("nonsense", 401)])
def test_api_missing_or_unknown_key_is_401(api: Api, key: str, status: int) -> None:
    answer = api.post("/v1/track", {"event": "A", "visitorId": "u"}, key=key)
    assert answer.status_code == status and answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_api_revoked_key_is_401(api: Api) -> None:
    keys.revoke(api.engine, "app", NOW)
    assert api.post("/v1/track", {"event": "A", "visitorId": "u"}).status_code == 401


def test_api_key_without_the_scope_is_403(api: Api) -> None:
    answer = api.post("/v1/metadata/accounts", [{"accountId": "a", "values": {"x": 1}}], key=api.track_only)
    assert answer.status_code == 403 and "metadata" in answer.get_json()["error"]


def test_api_body_over_the_limit_is_413(tmp_path: Path) -> None:
    api = Api(tmp_path, max_body_bytes=2048)
    answer = api.post("/v1/track", [{"event": "A", "visitorId": "u" * 100}] * 30)
    assert answer.status_code == 413


def test_api_above_the_keys_rate_is_429_with_retry_after(tmp_path: Path) -> None:
    api = Api(tmp_path, api_requests_per_second=0.5)
    first = api.post("/v1/track", {"event": "A", "visitorId": "u", "messageId": "1"})
    second = api.post("/v1/track", {"event": "A", "visitorId": "u", "messageId": "2"})
    assert first.status_code == 202
    assert second.status_code == 429 and second.headers["Retry-After"] == "2"
    assert len(api.rows(track_events)) == 1
    [key] = [k for k in keys.list_keys(api.engine) if k.name == "app"]
    assert (key.requests, key.accepted, key.limited) == (1, 1, 1)


def test_api_store_that_cannot_commit_is_503_and_nothing_is_stored(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "LOCK_WAIT_SECONDS", 0.2)
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with make_engine(make_settings(str(api.engine.url))).begin() as connection:
            connection.exec_driver_sql("UPDATE api_keys SET tat = tat")
            taken.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(5)
    try:
        answer = api.post("/v1/track", {"event": "A", "visitorId": "u"})
    finally:
        release.set()
        holder.join()
    assert answer.status_code == 503
    assert api.rows(track_events) == []


def test_api_bad_bodies_are_counted_per_key_and_never_echo_the_key(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    answer = api.post("/v1/track", {"event": "A", "visitorId": "u", "properties": {"bad name": 1}})
    assert answer.status_code == 400
    assert answer.get_json()["problems"][0]["path"] == '$.properties["bad name"]'
    api.post("/v1/track", {"event": "A", "visitorId": "u"}, key="brk_0123456789ab_" + "s" * 40)
    [key] = [k for k in keys.list_keys(api.engine) if k.name == "app"]
    assert key.rejected == 1
    assert api.key not in caplog.text and "s" * 40 not in caplog.text


def test_api_schema_and_openapi_are_served_without_a_key(api: Api) -> None:
    schema = api.client.get("/v1/schema.json")
    assert schema.status_code == 200 and "trackEvent" in schema.get_json()["$defs"]
    assert api.client.get("/v1/openapi.json").get_json()["paths"]["/v1/track"]["post"]["x-scope"] == "track"


def test_api_concurrent_requests_share_commits_and_each_learns_its_own_outcome(api: Api) -> None:
    answers: dict[int, Any] = {}

    def send(n: int) -> None:
        body = [{"event": "A", "visitorId": "u", "messageId": f"{n % 10}-{i}"} for i in range(20)]
        answers[n] = api.post("/v1/track", body).get_json()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(20)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - started < 30
    assert sum(a["accepted"] for a in answers.values()) == 200
    assert sum(a["duplicates"] for a in answers.values()) == 200
    assert len(api.rows(track_events)) == 200
