"""The events ledger, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from bridge.errors import EventRefused
from bridge.providers import Event
from bridge.store import store as st
from bridge.store.db import make_engine, migrate
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
        assert store.requeue_unresolved(connection, "cus_a", now=2.0) == 1
    assert store.count_by_status() == {st.RECEIVED: 1, st.UNRESOLVED: 1}


def test_store_purge_customer_removes_payloads_keeps_ledger(store: Store) -> None:
    store.ingest(make_event("evt_a", customer="cus_a"), now=1.0)
    store.ingest(make_event("evt_b", customer="cus_b"), now=1.0)
    store.cache_object("cus_a", {"id": "cus_a", "email": "a@example.com"}, now=1.0)
    assert store.purge_customer("cus_a") == 1
    assert store.cached_object("cus_a") is None
    claimed = {c.event.id: c.event for c in store.claim_events("w1", now=5.0, lease=30, limit=10)}
    assert claimed["evt_a"].payload == {}
    assert claimed["evt_b"].payload["id"] == "evt_b"
    assert store.ingest(make_event("evt_a", customer="cus_a"), now=6.0) is True  # still deduplicated


def test_store_purge_delivered_spares_recent_and_pending(store: Store) -> None:
    store.ingest(make_event("evt_old"), now=1.0)
    store.ingest(make_event("evt_recent"), now=1.0)
    store.ingest(make_event("evt_waiting"), now=1.0)
    claimed = {c.event.id: c for c in store.claim_events("w1", now=5.0, lease=30, limit=10)}
    with store.transaction() as connection:
        store.finish_event(connection, claimed["evt_old"].row_id, "w1", status=st.MAPPED, processed_at=10.0)
        store.finish_event(connection, claimed["evt_recent"].row_id, "w1", status=st.MAPPED, processed_at=500.0)
        store.finish_event(connection, claimed["evt_waiting"].row_id, "w1", status=st.UNRESOLVED,
                           processed_at=10.0)
    assert store.purge_delivered(before=100.0) == 1


def test_store_controls_set_read_and_clear(store: Store) -> None:
    assert store.control("pendo_paused") is None
    store.set_control("pendo_paused", "403", now=1.0)
    store.set_control("pendo_paused", "401", now=2.0)
    assert store.control("pendo_paused") == "401"
    store.set_control("pendo_paused", None, now=3.0)
    assert store.control("pendo_paused") is None


def test_store_cache_roundtrip(store: Store) -> None:
    store.cache_object("cus_1", {"id": "cus_1", "metadata": {"pendo_account_id": "acme"}}, now=7.0)
    store.cache_object("cus_1", {"id": "cus_1", "metadata": {"pendo_account_id": "acme2"}}, now=8.0)
    payload, fetched = store.cached_object("cus_1") or ({}, 0)
    assert payload["metadata"]["pendo_account_id"] == "acme2"
    assert fetched == 8.0
    assert json.dumps(payload)


def test_store_ingest_raises_store_unavailable_when_the_database_is_gone(tmp_path: Any) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    with pytest.raises(st.StoreUnavailable):
        Store(make_engine(settings)).ingest(make_event(), now=1.0)
