"""Group commit: concurrent webhooks share transactions, each still learns its own outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bridge.errors import EventRefused, StoreUnavailable
from bridge.store.db import make_engine, migrate
from bridge.store.store import Incoming, Store
from bridge.web.ingest import STUCK_COMMIT_SECONDS, GroupCommit
from tests.conftest import Clock, make_settings
from tests.store.test_store import make_event


class CountingStore(Store):
    """A real store that counts its transactions."""

    transactions = 0

    def ingest_many(self, batch: Sequence[Incoming]) -> list[bool]:
        self.transactions += 1
        time.sleep(0.05)  # a slow disk sync: webhooks arriving meanwhile queue for the next commit
        return super().ingest_many(batch)


@pytest.fixture
def store(database_url: str) -> CountingStore:
    settings = make_settings(database_url)
    migrate(settings)
    return CountingStore(make_engine(settings))


def test_group_commit_concurrent_events_all_stored_with_duplicates_told(store: CountingStore) -> None:
    group = GroupCommit(store)
    results: dict[int, bool] = {}

    def send(n: int) -> None:
        results[n] = group.ingest(Incoming(make_event(f"evt_{n % 40}"), received_at=1.0))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(80)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values()).count(False) == 40  # each id stored once, its twin told duplicate
    assert sum(store.count_by_status().values()) == 40
    assert store.transactions <= 20


def test_group_commit_keeps_the_raw_body(store: CountingStore) -> None:
    raw = '{"id":"evt_raw",  "spacing": "kept"}'
    GroupCommit(store).ingest(Incoming(make_event("evt_raw"), 1.0, raw=raw))
    with store.engine.connect() as connection:
        from sqlalchemy import text

        assert connection.execute(text("select payload from events")).scalar() == raw


def test_group_commit_failure_reaches_every_waiter(tmp_path: Path) -> None:
    store = Store(make_engine(make_settings(f"sqlite:///{tmp_path / 'absent' / 'x.db'}")))
    with pytest.raises(StoreUnavailable):
        GroupCommit(store).ingest(Incoming(make_event(), 1.0))


class GatedStore(Store):
    """A real store whose first commit waits for `gate`, so that the events sent meanwhile share the next one."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.gate = threading.Event()
        self.batches: list[int] = []

    def ingest_many(self, batch: Sequence[Incoming]) -> list[bool]:
        self.batches.append(len(batch))
        if len(self.batches) == 1:
            self.gate.wait(10)
        if any(item.event.id == "evt_boom" for item in batch):
            raise RuntimeError("a fault of ours, not of the database")
        return super().ingest_many(batch)


@pytest.fixture
def gated(database_url: str) -> GatedStore:
    settings = make_settings(database_url)
    migrate(settings)
    return GatedStore(make_engine(settings))


def ingest_all(group: GroupCommit, store: GatedStore, ids: list[str]) -> dict[str, object]:
    """Send `evt_first` (which holds the first commit), then `ids` at once; each id's result or exception."""
    results: dict[str, object] = {}

    def send(event_id: str) -> None:
        try:
            results[event_id] = group.ingest(Incoming(make_event(event_id), received_at=1.0))
        except Exception as exc:
            results[event_id] = exc

    threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in ["evt_first", *ids]]
    threads[0].start()
    time.sleep(0.2)
    for thread in threads[1:]:
        thread.start()
    time.sleep(0.5)  # all of them queue behind the first commit
    store.gate.set()
    for thread in threads:
        thread.join(10)
    return results


def ingest_within(group: GroupCommit, event_id: str, seconds: float = 5.0) -> object:
    """Ingest one event on a thread: its result, its exception, or "no answer" when ingest is wedged."""
    results: dict[str, object] = {}

    def send() -> None:
        try:
            results[event_id] = group.ingest(Incoming(make_event(event_id), received_at=1.0))
        except Exception as exc:
            results[event_id] = exc

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    thread.join(seconds)
    return results.get(event_id, "no answer")


def poisons(database_url: str) -> list[str]:
    """Ids the database refuses: no encoder writes an unpaired surrogate; PostgreSQL enforces varchar(255) and
    refuses NUL bytes (SQLite stores both)."""
    found = ["evt_\ud800"]
    if not database_url.startswith("sqlite"):
        found += ["evt_" + "x" * 300, "evt_\u0000"]
    return found


def test_group_commit_one_refused_event_fails_alone(gated: GatedStore, database_url: str) -> None:
    group = GroupCommit(gated)
    bad = poisons(database_url)
    good = [f"evt_{n}" for n in range(10)]
    results = ingest_all(group, gated, good[:5] + bad + good[5:])
    assert gated.batches[1] == len(good) + len(bad)  # they did share a commit
    assert {i: type(results.get(i)) for i in bad} == dict.fromkeys(bad, EventRefused)
    assert {i: results.get(i) for i in ["evt_first", *good]} == dict.fromkeys(["evt_first", *good], False)
    assert ingest_within(group, "evt_next") is False


def test_group_commit_an_unexpected_error_fails_its_event_only_and_ingest_goes_on(gated: GatedStore) -> None:
    group = GroupCommit(gated)
    results = ingest_all(group, gated, ["evt_a", "evt_boom", "evt_b"])
    assert isinstance(results.get("evt_boom"), RuntimeError)
    assert (results.get("evt_a"), results.get("evt_b")) == (False, False)
    assert ingest_within(group, "evt_next") is False


def test_group_commit_the_leader_failing_alone_wedges_nothing(tmp_path: Path) -> None:
    class Broken(Store):
        def ingest_many(self, batch: Sequence[Incoming]) -> list[bool]:
            raise RuntimeError("a fault of ours")

    group = GroupCommit(Broken(make_engine(make_settings(f"sqlite:///{tmp_path / 'x.db'}"))))
    with pytest.raises(RuntimeError):
        group.ingest(Incoming(make_event(), 1.0))
    assert isinstance(ingest_within(group, "evt_2"), RuntimeError)  # its own failure, not left waiting
    assert group.commit_age() == 0.0


def test_group_commit_tells_when_a_commit_runs_too_long(gated: GatedStore, clock: Clock) -> None:
    group = GroupCommit(gated, clock)
    thread = threading.Thread(target=group.ingest, args=(Incoming(make_event(), 1.0),), daemon=True)
    thread.start()
    time.sleep(0.2)
    assert not group.stuck()
    clock.advance(STUCK_COMMIT_SECONDS + 1)
    assert group.stuck() and group.commit_age() > STUCK_COMMIT_SECONDS
    gated.gate.set()
    thread.join(10)
    assert not group.stuck() and group.commit_age() == 0.0
