"""The API's group commit into the outbox, on SQLite and PostgreSQL: dedupe, the guard, pace and revocation."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import Engine, func, select

from bridge.mapping.operations import MetadataUpdate
from bridge.store import keys
from bridge.store.db import make_engine, migrate
from bridge.store.schema import field_values, track_events
from bridge.web.api_bodies import TrackRow
from bridge.web.api_ingest import LIMITED, REVOKED, STORED, ApiIngest, Submission
from tests.conftest import make_settings

FAST = keys.Pace(1000.0, 1000)


@pytest.fixture
def engine(database_url: str) -> Engine:
    settings = make_settings(database_url)
    migrate(settings)
    engine = make_engine(settings)
    keys.create(engine, "app", (), 0.0)
    return engine


def track(message_id: str | None) -> TrackRow:
    return TrackRow(message_id, {"type": "track", "event": "A", "visitorId": "u", "timestamp": 1, "properties": {},
                                 "context": {}}, 1)


def count(engine: Engine, table: object) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_api_ingest_two_processes_store_each_message_once(engine: Engine, database_url: str) -> None:
    """Two web processes (two engines, two group commits) get the same messages at once."""
    ingests = [ApiIngest(engine, FAST, lambda: 100.0),
               ApiIngest(make_engine(make_settings(database_url)), FAST, lambda: 100.0)]
    results: list[tuple[int, int]] = []
    lock = threading.Lock()

    def send(n: int) -> None:
        outcome = ingests[n % 2].submit(Submission("app", f"r{n}", track=[track(f"m{i}") for i in range(50)]))
        with lock:
            results.append((outcome.accepted, outcome.duplicates))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(a for a, _ in results) == 50 and sum(d for _, d in results) == 350
    assert count(engine, track_events) == 50


def test_api_ingest_metadata_counts_what_changed(engine: Engine) -> None:
    ingest = ApiIngest(engine, FAST, lambda: 100.0)
    first = ingest.submit(Submission("app", "r1", metadata=[
        MetadataUpdate("account", "a", {"seats": 5}, 1000), MetadataUpdate("account", "b", {"seats": 1}, 1000)]))
    assert (first.status, first.accepted, first.duplicates) == (STORED, 2, 0)
    second = ingest.submit(Submission("app", "r2", metadata=[
        MetadataUpdate("account", "a", {"seats": 5}, 2000), MetadataUpdate("account", "b", {"seats": 2}, 2000),
        MetadataUpdate("account", "c", {"seats": 2}, 500)]))
    assert (second.accepted, second.duplicates) == (2, 1)
    with engine.connect() as connection:
        rows = {r.entity_id: (json.loads(r.value), r.source, r.event_id)
                for r in connection.execute(select(field_values))}
    assert rows == {"a": (5, "app", "app:r2"), "b": (2, "app", "app:r2"), "c": (2, "app", "app:r2")}


def test_api_ingest_pace_and_revocation_are_decided_at_commit(engine: Engine) -> None:
    ingest = ApiIngest(engine, keys.Pace(1.0, 1), lambda: 100.0)
    assert ingest.submit(Submission("app", "r1", track=[track("1")])).status == STORED
    limited = ingest.submit(Submission("app", "r2", track=[track("2")]))
    assert limited.status == LIMITED and limited.retry_after == pytest.approx(1.0)
    keys.revoke(engine, "app", 100.0)
    assert ingest.submit(Submission("app", "r3", track=[track("3")])).status == REVOKED
    assert count(engine, track_events) == 1


def test_api_ingest_nul_characters_inside_values_are_stored_escaped(engine: Engine) -> None:
    """The schema keeps NUL out of ids; inside a value or an event's name it is stored as JSON escapes it."""
    ingest = ApiIngest(engine, FAST, lambda: 100.0)
    row = TrackRow("m-nul", {"type": "track", "event": "Report\x00Exported", "visitorId": "u", "timestamp": 1,
                             "properties": {"p": "a\x00b"}, "context": {}}, 1)
    assert ingest.submit(Submission("app", "r1", track=[row])).accepted == 1
    assert ingest.submit(Submission("app", "r2", metadata=[
        MetadataUpdate("account", "a", {"notes": "x\x00y"}, 1000)])).accepted == 1
    with engine.connect() as connection:
        assert json.loads(connection.execute(select(field_values.c.value)).scalar_one()) == "x\x00y"
        payload = json.loads(connection.execute(select(track_events.c.payload)).scalar_one())
    assert payload["event"] == "Report\x00Exported"
