"""The outbox and its ordering guard, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest

from bridge.mapping.operations import MetadataUpdate
from bridge.pendo import outbox as ob
from bridge.pendo.outbox import Outbox, Settlement
from bridge.store.db import make_engine, migrate
from bridge.store.store import Store
from tests.conftest import make_settings


@pytest.fixture
def box(database_url: str) -> Outbox:
    settings = make_settings(database_url)
    migrate(settings)
    return Outbox(make_engine(settings))


def put(box: Outbox, values: dict[str, object], source_time: int, rank: int = 0, entity: str = "acme",
        event_id: str = "evt") -> None:
    with box.engine.begin() as connection:
        op = MetadataUpdate("account", entity, dict(values), source_time, rank)
        ob.enqueue_metadata(connection, op, event_id, "v1", now=1.0)


def claim_all(box: Outbox, worker: str = "w1", now: float = 5.0) -> list[ob.EntityBatch]:
    return box.claim_entities(worker, now=now, lease=30, limit=100)


def test_outbox_older_event_never_overwrites_newer(box: Outbox) -> None:
    put(box, {"billing_status": "canceled"}, source_time=2000)
    put(box, {"billing_status": "active"}, source_time=1000)
    [batch] = claim_all(box)
    assert batch.values == {"billing_status": "canceled"}


def test_outbox_tie_broken_by_rank_not_arrival(box: Outbox) -> None:
    put(box, {"billing_status": "canceled"}, source_time=1000, rank=9)
    put(box, {"billing_status": "active"}, source_time=1000, rank=3)
    [batch] = claim_all(box)
    assert batch.values["billing_status"] == "canceled"


def test_outbox_guard_is_per_field(box: Outbox) -> None:
    put(box, {"mrr": 10, "billing_plan": "pro"}, source_time=2000)
    put(box, {"mrr": 5, "delinquent": True}, source_time=1000)
    [batch] = claim_all(box)
    assert batch.values == {"mrr": 10, "billing_plan": "pro", "delinquent": True}


def test_outbox_coalesces_updates_of_one_account(box: Outbox) -> None:
    for n in range(5):
        put(box, {"mrr": n}, source_time=1000 + n, event_id=f"evt_{n}")
    batches = claim_all(box)
    assert [(b.entity_id, b.values) for b in batches] == [("acme", {"mrr": 4})]


def test_outbox_delivered_value_is_not_sent_again_unchanged(box: Outbox) -> None:
    put(box, {"mrr": 10}, source_time=1000)
    [batch] = claim_all(box)
    box.settle("w1", [Settlement(batch, ob.DELIVERED)])
    put(box, {"mrr": 10}, source_time=2000)
    assert claim_all(box, now=6.0) == []
    put(box, {"mrr": 11}, source_time=3000)
    assert [b.values for b in claim_all(box, now=7.0)] == [{"mrr": 11}]


def test_outbox_value_changed_in_flight_stays_pending(box: Outbox) -> None:
    put(box, {"mrr": 10}, source_time=1000)
    [batch] = claim_all(box)
    put(box, {"mrr": 20}, source_time=2000)
    box.settle("w1", [Settlement(batch, ob.DELIVERED)])
    assert [b.values for b in claim_all(box, now=6.0)] == [{"mrr": 20}]


def test_outbox_claim_is_exclusive_and_lease_expires_with_reclaim_counted(box: Outbox) -> None:
    put(box, {"mrr": 1}, source_time=1000)
    assert len(claim_all(box, "w1", now=5.0)) == 1
    assert claim_all(box, "w2", now=10.0) == []
    assert len(claim_all(box, "w2", now=40.0)) == 1
    assert box.reclaim_count() == 1


def test_outbox_held_fields_released_when_known(box: Outbox) -> None:
    put(box, {"mrr": 1, "plan": "pro"}, source_time=1000)
    [batch] = claim_all(box)
    box.settle("w1", [Settlement(batch, ob.HELD, ("plan",)), Settlement(batch, ob.DELIVERED, ("mrr",))])
    assert box.held_fields() == {"account": {"plan"}}
    assert box.release_held("account", {"plan"}, now=6.0) == 1
    assert [b.values for b in claim_all(box, now=7.0)] == [{"plan": "pro"}]


def test_outbox_retry_waits_until_next_attempt(box: Outbox) -> None:
    put(box, {"mrr": 1}, source_time=1000)
    [batch] = claim_all(box)
    box.settle("w1", [Settlement(batch, ob.PENDING, values={"attempts": 1, "next_attempt_at": 50.0})])
    assert claim_all(box, now=10.0) == []
    [again] = claim_all(box, now=51.0)
    assert again.attempts == 1


def test_outbox_track_added_once_per_event_and_rule(box: Outbox) -> None:
    with box.engine.begin() as connection:
        for _ in range(3):
            ob.enqueue_track(connection, "evt_1", "created", {"type": "track"}, 1000, "v1", now=1.0)
    claimed = box.claim_tracks("w1", now=5.0, lease=30, limit=10)
    assert len(claimed) == 1
    box.settle_track(claimed[0].row_id, "w1", ob.DELIVERED, delivered_at=5.0)
    assert box.counts()["track"] == {ob.DELIVERED: 1}


def test_outbox_store_purge_keeps_payloads_with_pending_values(database_url: str) -> None:
    settings = make_settings(database_url)
    migrate(settings)
    store = Store(make_engine(settings))
    box = Outbox(store.engine)
    from tests.store.test_store import make_event

    store.ingest(make_event("evt_1"), now=1.0)
    [claimed] = store.claim_events("w1", now=2.0, lease=30, limit=1)
    with store.transaction() as connection:
        ob.enqueue_metadata(connection, MetadataUpdate("account", "acme", {"mrr": 1}, 1000), "evt_1", "v", 2.0)
        store.finish_event(connection, claimed.row_id, "w1", status="mapped", processed_at=2.0)
    assert store.expire_payloads(before=100.0) == 0
    [batch] = claim_all(box, now=3.0)
    box.settle("w1", [Settlement(batch, ob.DELIVERED)])
    assert store.expire_payloads(before=100.0) == 1


def test_outbox_claim_takes_the_longest_waiting_entities_first(box: Outbox) -> None:
    for n, entity in enumerate(["c", "a", "d", "b"]):
        with box.engine.begin() as connection:
            ob.enqueue_metadata(connection, MetadataUpdate("account", entity, {"x": n, "y": n}, 1000 + n), "e", "v1",
                                now=1.0 + n)
    batches = box.claim_entities("w1", now=10.0, lease=30, limit=2)
    assert sorted(b.entity_id for b in batches) == ["a", "c"]


def test_outbox_claim_finds_enough_entities_behind_one_with_many_fields(box: Outbox) -> None:
    """An entity with more due fields than the scan windows hold does not make the claim come up short."""
    with box.engine.begin() as connection:
        ob.enqueue_metadata(connection, MetadataUpdate("account", "wide", {f"f{i}": i for i in range(200)}, 1),
                            "e", "v1", now=1.0)
        ob.enqueue_metadata(connection, MetadataUpdate("account", "narrow", {"x": 1}, 1), "e", "v1", now=2.0)
    batches = box.claim_entities("w1", now=10.0, lease=30, limit=2)
    assert sorted(b.entity_id for b in batches) == ["narrow", "wide"]
    assert len(next(b for b in batches if b.entity_id == "wide").values) == 200


def _rows(entity: str, values: dict[str, object], source_time: int, rank: int = 0) -> list[dict[str, object]]:
    return ob.metadata_rows(MetadataUpdate("account", entity, dict(values), source_time, rank), "evt", "v1", 1.0)


@pytest.mark.parametrize("groups", [
    # distinct fields: one statement
    [[("a", {"plan": "pro"}, 10)], [("b", {"plan": "team"}, 10)], [("a", {"seats": 3}, 10)]],
    # one field twice, an exact tie: the first stays, as upserting them in turn leaves it
    [[("a", {"plan": "pro"}, 10)], [("a", {"plan": "team"}, 10)]],
    # one field twice, the later one older: the newer stays
    [[("a", {"plan": "pro"}, 20)], [("a", {"plan": "team"}, 10)]],
])
def test_outbox_enqueue_in_turn_leaves_what_upserting_one_by_one_leaves(database_url: str, groups: list) -> None:
    def state(enqueue: object) -> list[tuple[object, ...]]:
        settings = make_settings(database_url)
        migrate(settings)
        engine = make_engine(settings)
        built = [_rows(entity, values, at) for group in groups for entity, values, at in group]
        with engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM field_values")
            enqueue(connection, built)  # type: ignore[operator]
        with engine.connect() as connection:
            found = connection.exec_driver_sql(
                "SELECT entity_id, field, value, version, state FROM field_values ORDER BY entity_id, field").all()
        engine.dispose()
        return [tuple(row) for row in found]

    def one_by_one(connection: object, built: list) -> None:
        for rows in built:
            ob.enqueue_fields(connection, rows)  # type: ignore[arg-type]

    assert state(ob.enqueue_in_turn) == state(one_by_one)
    assert state(ob.enqueue_in_turn)  # something was written
