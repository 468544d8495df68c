"""Activity per minute: deliveries counted as they settle, events received read from the ledger."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bridge.mapping.operations import MetadataUpdate
from bridge.ops import activity
from bridge.pendo import outbox as ob
from bridge.pendo.outbox import Outbox, Settlement
from bridge.store.db import make_engine, migrate
from bridge.store.schema import delivery_minutes
from bridge.store.store import Store
from tests.conftest import make_settings
from tests.web.admin.conftest import store_event, stripe_event

MINUTE = 29_000_040


@pytest.fixture
def store(database_url: str) -> Store:
    settings = make_settings(database_url)
    migrate(settings)
    return Store(make_engine(settings))


def test_activity_deliveries_add_up_per_minute_and_old_minutes_go(store: Store) -> None:
    with store.transaction() as connection:
        activity.count_delivered(connection, MINUTE * 60 + 5, 3)
        activity.count_delivered(connection, MINUTE * 60 + 59.9, 2)
        activity.count_delivered(connection, MINUTE * 60 + 60, 1)
        activity.count_delivered(connection, MINUTE * 60 + 61, 0)
    assert activity.delivered_per_minute(store.engine, MINUTE, MINUTE + 1) == {MINUTE: 5, MINUTE + 1: 1}
    with store.transaction() as connection:
        activity.count_delivered(connection, (MINUTE + activity.KEEP_MINUTES + 1) * 60, 1)
    with store.engine.connect() as connection:
        assert connection.execute(select(delivery_minutes.c.minute)).scalars().all() == [
            MINUTE + 1, MINUTE + activity.KEEP_MINUTES + 1]


def test_activity_settled_values_and_tracks_count_as_delivered(store: Store) -> None:
    box = Outbox(store.engine)
    with store.transaction() as connection:
        ob.enqueue_metadata(connection, MetadataUpdate("account", "acme", {"a": 1, "b": 2}, 1000), "evt", "v", 1.0)
        ob.enqueue_track(connection, "evt", "rule", {"event": "X"}, 1000, "v", 1.0)
    [batch] = box.claim_entities("w1", now=5.0, lease=30, limit=10)
    box.settle("w1", [Settlement(batch, ob.DELIVERED)], now=MINUTE * 60)
    [track] = box.claim_tracks("w1", now=5.0, lease=30, limit=10)
    box.settle_track(track.row_id, "w1", ob.DELIVERED, delivered_at=MINUTE * 60 + 1)
    assert activity.delivered_per_minute(store.engine, MINUTE, MINUTE) == {MINUTE: 3}


def test_activity_events_received_per_minute(store: Store) -> None:
    for index, second in enumerate((0, 30, 59.5, 60, 180)):
        store_event(store, stripe_event(f"evt_{index}", "invoice.paid"), MINUTE * 60 + second)
    assert activity.received_per_minute(store.engine, MINUTE, MINUTE + 2) == {MINUTE: 3, MINUTE + 1: 1}
