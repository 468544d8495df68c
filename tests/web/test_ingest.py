"""Group commit: concurrent webhooks share transactions, each still learns its own outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from bridge.errors import StoreUnavailable
from bridge.store.db import make_engine, migrate
from bridge.store.store import Incoming, Store
from bridge.web.ingest import GroupCommit
from tests.conftest import make_settings
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
