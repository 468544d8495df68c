"""The events ledger, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from sqlalchemy import select

from bridge.errors import EventRefused
from bridge.providers import Event
from bridge.store import store as st
from bridge.store.db import make_engine, migrate
from bridge.store.schema import events
from bridge.store.store import Incoming, Store
from tests.conftest import make_settings


def make_event(event_id: str = "evt_1", created: float = 1_700_000_000, customer: str | None = "cus_1",
               **payload: Any) -> Event:
    body = {"id": event_id, "object": "event", "type": "customer.subscription.updated", "created": created,
            "data": {"object": {"id": "sub_1", "customer": customer}}, **payload}
    return Event(provider="stripe", id=event_id, type=body["type"], created=created, livemode=True,
                 api_version="2024-06-20", connect_account=None, customer_id=customer, payload=body)


@pytest.fixture
def store(database_url: str) -> Store:
    settings = make_settings(database_url)
    migrate(settings)
    return Store(make_engine(settings))


def test_migrate_twice_is_harmless(database_url: str) -> None:
    settings = make_settings(database_url)
    migrate(settings)
    migrate(settings)
    assert Store(make_engine(settings)).count_by_status() == {}


def test_store_ingest_deduplicates_on_provider_and_event_id(store: Store) -> None:
    assert store.ingest(make_event(), now=1.0) is False
    assert store.ingest(make_event(), now=2.0) is True
    assert store.count_by_status() == {st.RECEIVED: 1}


def test_store_ingest_keeps_the_raw_payload(store: Store) -> None:
    store.ingest(make_event(extra={"nested": [1, 2]}), now=1.0)
    [claimed] = store.claim_events("w1", now=5.0, lease=30, limit=10)
    assert claimed.event.payload["extra"] == {"nested": [1, 2]}
    assert claimed.event.customer_id == "cus_1"


def test_store_ingest_refuses_values_the_database_cannot_hold(store: Store, database_url: str) -> None:
    bad = ["evt_\ud800"] + ([] if database_url.startswith("sqlite") else ["evt_" + "x" * 300, "evt_\u0000"])
    for event_id in bad:
        with pytest.raises(EventRefused):
            store.ingest_many([Incoming(make_event("evt_ok"), 1.0), Incoming(make_event(event_id), 1.0)])
    assert store.count_by_status() == {}  # the whole transaction rolled back


def test_store_claims_in_event_time_order(store: Store) -> None:
    store.ingest(make_event("evt_new", created=200), now=1.0)
    store.ingest(make_event("evt_old", created=100), now=1.0)
    claimed = store.claim_events("w1", now=5.0, lease=30, limit=10)
    assert [c.event.id for c in claimed] == ["evt_old", "evt_new"]


def test_store_claim_is_exclusive_until_the_lease_runs_out(store: Store) -> None:
    store.ingest(make_event(), now=1.0)
    assert len(store.claim_events("w1", now=5.0, lease=30, limit=10)) == 1
    assert store.claim_events("w2", now=10.0, lease=30, limit=10) == []
    assert [c.event.id for c in store.claim_events("w2", now=40.0, lease=30, limit=10)] == ["evt_1"]


def test_store_concurrent_claims_never_share_an_event(store: Store) -> None:
    for n in range(60):
        store.ingest(make_event(f"evt_{n}", created=n), now=1.0)
    got: dict[str, list[str]] = {}

    def claim(name: str) -> None:
        mine = got.setdefault(name, [])
        while batch := store.claim_events(name, now=5.0, lease=300, limit=7):
            mine.extend(c.event.id for c in batch)

    threads = [threading.Thread(target=claim, args=(f"w{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [event_id for ids in got.values() for event_id in ids]
    assert sorted(every) == sorted(f"evt_{n}" for n in range(60))


def test_store_finish_event_needs_the_lease(store: Store) -> None:
    store.ingest(make_event(), now=1.0)
    [claimed] = store.claim_events("w1", now=5.0, lease=30, limit=10)
    with store.transaction() as connection:
        assert store.finish_event(connection, claimed.row_id, "w2", status=st.MAPPED) is False
        assert store.finish_event(connection, claimed.row_id, "w1", status=st.MAPPED) is True
    assert store.count_by_status() == {st.MAPPED: 1}


def test_store_requeue_unresolved_only_for_that_customer(store: Store) -> None:
    store.ingest(make_event("evt_a", customer="cus_a"), now=1.0, status=st.UNRESOLVED)
    store.ingest(make_event("evt_b", customer="cus_b"), now=1.0, status=st.UNRESOLVED)
    with store.transaction() as connection:
        assert store.requeue_unresolved(connection, "other", "cus_a", now=2.0) == 0  # another provider's customer
        assert store.requeue_unresolved(connection, "stripe", "cus_a", now=2.0) == 1
    assert store.count_by_status() == {st.RECEIVED: 1, st.UNRESOLVED: 1}


def test_store_claim_settles_rows_it_cannot_hand_to_the_worker(store: Store) -> None:
    for event_id in ("evt_purged", "evt_garbled", "evt_ok"):
        store.ingest(make_event(event_id), now=1.0)
    with store.transaction() as connection:
        connection.execute(events.update().where(events.c.event_id == "evt_purged").values(payload=None))
        connection.execute(events.update().where(events.c.event_id == "evt_garbled").values(payload="{not json"))
    assert [c.event.id for c in store.claim_events("w1", now=5.0, lease=30, limit=10)] == ["evt_ok"]
    assert store.count_by_status() == {st.PURGED: 1, st.FAILED: 1, st.RECEIVED: 1}
    assert store.claim_events("w2", now=50.0, lease=30, limit=10)[0].event.id == "evt_ok"  # its lease ran out


def test_store_expire_payloads_spares_recent_and_pending(store: Store) -> None:
    for event_id in ("evt_old", "evt_recent", "evt_unresolved", "evt_failed", "evt_received"):
        store.ingest(make_event(event_id), now=1.0)
    claimed = {c.event.id: c for c in store.claim_events("w1", now=5.0, lease=30, limit=10)}
    with store.transaction() as connection:
        for event_id, status, at in (("evt_old", st.MAPPED, 10.0), ("evt_recent", st.MAPPED, 500.0),
                                     ("evt_unresolved", st.UNRESOLVED, 10.0), ("evt_failed", st.FAILED, 10.0)):
            store.finish_event(connection, claimed[event_id].row_id, "w1", status=status, processed_at=at)
        connection.execute(events.update().where(events.c.event_id == "evt_received").values(claimed_by=None))
    assert store.expire_payloads(before=100.0) == 3
    with store.engine.connect() as connection:
        found = {row.event_id: (row.status, row.payload is None) for row in connection.execute(select(events))}
    assert found == {"evt_old": (st.MAPPED, True), "evt_recent": (st.MAPPED, False),
                     "evt_unresolved": (st.EXPIRED, True), "evt_failed": (st.FAILED, True),
                     "evt_received": (st.RECEIVED, False)}
    with store.transaction() as connection:  # an expired event is not mapped again when its customer changes
        assert store.requeue_unresolved(connection, "stripe", "cus_1", now=200.0) == 0


def test_store_expire_payloads_of_ignored_events_counts_from_their_arrival(store: Store) -> None:
    store.ingest(make_event("evt_ignored"), now=1.0, status=st.IGNORED)
    assert store.expire_payloads(before=0.5) == 0
    assert store.expire_payloads(before=2.0) == 1


def test_store_controls_set_read_and_clear(store: Store) -> None:
    assert store.control("pendo_paused") is None
    store.set_control("pendo_paused", "403", now=1.0)
    store.set_control("pendo_paused", "401", now=2.0)
    assert store.control("pendo_paused") == "401"
    store.set_control("pendo_paused", None, now=3.0)
    assert store.control("pendo_paused") is None


def test_store_cache_roundtrip(store: Store) -> None:
    store.cache_object("stripe", "cus_1", {"id": "cus_1", "metadata": {"pendo_account_id": "acme"}}, now=7.0)
    store.cache_object("stripe", "cus_1", {"id": "cus_1", "metadata": {"pendo_account_id": "acme2"}}, now=8.0)
    payload, fetched = store.cached_object("stripe", "cus_1") or ({}, 0)
    assert payload["metadata"]["pendo_account_id"] == "acme2"
    assert fetched == 8.0
    assert json.dumps(payload)


def test_store_ingest_raises_store_unavailable_when_the_database_is_gone(tmp_path: Any) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    with pytest.raises(st.StoreUnavailable):
        Store(make_engine(settings)).ingest(make_event(), now=1.0)
