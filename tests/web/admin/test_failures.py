"""Failure groups and retries, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bridge.store.db import make_engine, migrate
from bridge.store.schema import events, field_values, track_events
from bridge.store.store import Store
from bridge.web.admin import failures
from tests.conftest import make_settings
from tests.web.admin.conftest import START, set_state, store_event, store_values, stripe_event

BAD_REQUEST = "Pendo answered 400 to POST /api/v1/metadata/account/custom/value: bad value"


@pytest.fixture
def store(database_url: str) -> Store:
    settings = make_settings(database_url)
    migrate(settings)
    store = Store(make_engine(settings))
    store_event(store, stripe_event("evt_1", "customer.subscription.updated"), START)
    store_event(store, stripe_event("evt_2", "invoice.paid", customer="cus_2"), START + 1, status="unresolved",
                detail={"matched": ["invoice-paid"], "unresolved": ["invoice-paid"], "warnings": []}, account=None)
    store_values(store, "evt_1", {"billing_plan": "pro", "mrr": 49, "seats": 3}, 1000, START)
    fv = field_values.c
    set_state(store, field_values, fv.field.in_(["billing_plan", "mrr"]), state="failed", last_error=BAD_REQUEST,
              attempts=1)
    set_state(store, field_values, fv.field == "seats", state="held", last_error="field unknown to Pendo")
    return store


def states(store: Store) -> dict[str, str]:
    with store.engine.connect() as connection:
        return dict(connection.execute(select(field_values.c.field, field_values.c.state)).all())


def test_failures_grouped_by_reason_biggest_first(store: Store) -> None:
    found = failures.groups(store.engine)
    assert [(g.source, g.state, g.reason, g.count) for g in found] == [
        ("metadata", "failed", BAD_REQUEST, 2),
        ("event", "unresolved", '{"matched": ["invoice-paid"], "unresolved": ["invoice-paid"], "warnings": []}', 1),
        ("metadata", "held", "field unknown to Pendo", 1),  # as big as the one above, but older
    ]
    assert sorted(row["field"] for row in found[0].examples) == ["billing_plan", "mrr"]
    assert found[1].label == "no Pendo account id resolved for invoice-paid"
    assert found[0].label == BAD_REQUEST


def test_failures_retry_a_group(store: Store) -> None:
    assert failures.count_group(store.engine, "metadata", "failed", BAD_REQUEST) == 2
    assert failures.retry_group(store.engine, "metadata", "failed", BAD_REQUEST, START + 10) == 2
    assert states(store) == {"billing_plan": "pending", "mrr": "pending", "seats": "held"}
    with store.engine.connect() as connection:
        row = connection.execute(select(field_values).where(field_values.c.field == "mrr")).mappings().one()
    assert (row["attempts"], row["next_attempt_at"], row["last_error"]) == (0, START + 10, BAD_REQUEST)


def test_failures_retry_leaves_rows_a_worker_holds(store: Store) -> None:
    set_state(store, field_values, field_values.c.field == "mrr", claimed_by="w1", claimed_until=START + 60)
    assert failures.retry_group(store.engine, "metadata", "failed", BAD_REQUEST, START + 10) == 1
    assert states(store)["mrr"] == "failed"


def test_failures_retry_one_row_of_each_kind(store: Store) -> None:
    key = {"kind": "account", "entity_id": "acme", "field": "seats"}
    assert failures.retry_one(store.engine, "metadata", key, START) == 1
    assert states(store)["seats"] == "pending"
    assert failures.retry_one(store.engine, "metadata", key, START) == 0  # no longer failed or held
    with store.engine.connect() as connection:
        row_id = connection.execute(select(events.c.id).where(events.c.event_id == "evt_2")).scalar_one()
    assert failures.retry_one(store.engine, "event", {"id": str(row_id)}, START) == 1
    with store.engine.connect() as connection:
        assert connection.execute(select(events.c.status).where(events.c.id == row_id)).scalar_one() == "received"
    assert failures.retry_one(store.engine, "track", {"id": "not a number"}, START) == 0


def test_failures_retry_a_failed_track_event(store: Store) -> None:
    from bridge.pendo import outbox

    with store.transaction() as connection:
        outbox.enqueue_track(connection, "evt_1", "rule", {"event": "X"}, 1000, "v1", START, state="failed")
    assert [g.source for g in failures.groups(store.engine)].count("track") == 1
    assert failures.retry_group(store.engine, "track", "failed", "", START) == 1
    with store.engine.connect() as connection:
        assert connection.execute(select(track_events.c.state)).scalar_one() == "pending"


def test_failures_state_outside_the_group_is_never_retried(store: Store) -> None:
    assert failures.retry_group(store.engine, "metadata", "delivered", "", START) == 0
    assert failures.count_group(store.engine, "metadata", "pending", "") == 0
