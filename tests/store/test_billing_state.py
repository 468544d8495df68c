"""Account roll-up through the mapper on a real SQLite: several subscriptions, late deletions, links."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bridge.mapping import load_mappings
from bridge.providers import Event
from bridge.providers.stripe.enrichment import Enricher, RateBudget
from bridge.store import billing_state, links
from bridge.store.db import make_engine, migrate, reading
from bridge.store.schema import billing_accounts, field_values, track_events
from bridge.store.store import Incoming, Store
from bridge.worker.mapper import Mapper
from tests.conftest import ROOT, make_settings

T0 = 1_756_700_000


def price(amount: int, interval: str = "month", lookup: str = "pro") -> dict[str, Any]:
    return {"id": f"price_{lookup}", "object": "price", "billing_scheme": "per_unit", "currency": "usd",
            "lookup_key": lookup, "unit_amount": amount,
            "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed"}}


def sub(sub_id: str, status: str = "active", amount: int = 5000, quantity: int = 1, lookup: str = "pro",
        **fields: Any) -> dict[str, Any]:
    return {"id": sub_id, "object": "subscription", "status": status, "currency": "usd", "customer": "cus_1",
            "cancel_at": None, "cancel_at_period_end": False, "canceled_at": None, "trial_end": None,
            "pause_collection": None, "metadata": {"pendo_account_id": "acme", "pendo_visitor_id": "v1"},
            "items": {"data": [{"id": f"si_{sub_id}", "quantity": quantity, "price": price(amount, lookup=lookup),
                                "current_period_start": T0, "current_period_end": T0 + 2_592_000}]},
            **fields}


def stripe_event(event_id: str, event_type: str, obj: dict[str, Any], created: int,
                 previous: dict[str, Any] | None = None) -> Event:
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    body = {"id": event_id, "object": "event", "type": event_type, "created": created,
            "api_version": "2025-03-31.basil", "data": data}
    return Event(provider="stripe", id=event_id, type=event_type, created=float(created), livemode=True,
                 api_version="2025-03-31.basil", connect_account=None, customer_id=obj.get("customer"), payload=body)


class Clock:
    now = float(T0 + 600)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def mapper(sqlite_url: str) -> Mapper:
    settings = make_settings(sqlite_url, pendo_track_secret="track")
    migrate(settings)
    store = Store(make_engine(settings))
    enricher = Enricher(store, None, RateBudget(1000.0, sleep=lambda _: None), Clock())
    # The customer is known (its customer.created event came first), with no customer-wide discount.
    store.cache_object("stripe", "cus_1", {"id": "cus_1", "object": "customer", "discount": None}, Clock.now)
    return Mapper(settings, store, load_mappings(ROOT / "mappings"), enricher, "w1", Clock())


def deliver(mapper: Mapper, *events: Event) -> None:
    for event in events:
        mapper.store.ingest(event, now=Clock.now)
        while mapper.run_batch():
            pass


def account(mapper: Mapper) -> dict[str, Any]:
    with mapper.store.engine.connect() as connection:
        rows = connection.execute(select(field_values.c.field, field_values.c.value)
                                  .where(field_values.c.entity_id == "acme")).all()
    return {field: json.loads(value) for field, value in rows}


def tracks(mapper: Mapper) -> list[str]:
    with mapper.store.engine.connect() as connection:
        payloads = connection.execute(select(track_events.c.payload).order_by(track_events.c.id)).scalars()
        return [json.loads(payload)["event"] for payload in payloads]


def test_two_subscriptions_sum_and_cancelling_one_keeps_the_other(mapper: Mapper) -> None:
    deliver(mapper, stripe_event("evt_a", "customer.subscription.created", sub("sub_a", amount=5000), T0),
            stripe_event("evt_b", "customer.subscription.created", sub("sub_b", amount=2000, lookup="addon"), T0 + 1))
    assert (account(mapper)["mrr"], account(mapper)["billing_plan"]) == (70.0, "pro")
    deliver(mapper, stripe_event("evt_a_del", "customer.subscription.deleted",
                                 sub("sub_a", status="canceled", canceled_at=T0 + 5), T0 + 5))
    values = account(mapper)
    assert (values["mrr"], values["billing_status"], values["billing_plan"]) == (20.0, "active", "addon")
    assert tracks(mapper)[-1] == "Subscription Canceled"


def test_cancel_and_resubscribe_with_a_late_deletion_leaves_the_account_active(mapper: Mapper) -> None:
    deliver(mapper,
            stripe_event("evt_old", "customer.subscription.created", sub("sub_old", amount=5000), T0),
            stripe_event("evt_new", "customer.subscription.created", sub("sub_new", amount=9000), T0 + 20),
            stripe_event("evt_old_del", "customer.subscription.deleted",
                         sub("sub_old", status="canceled", amount=5000, canceled_at=T0 + 10), T0 + 10))
    values = account(mapper)
    assert (values["mrr"], values["billing_status"]) == (90.0, "active")


def test_an_older_snapshot_never_replaces_a_newer_one(mapper: Mapper) -> None:
    deliver(mapper,
            stripe_event("evt_new", "customer.subscription.updated", sub("sub_a", status="past_due", quantity=2),
                         T0 + 20, {"status": "active"}),
            stripe_event("evt_old", "customer.subscription.updated", sub("sub_a", quantity=5), T0 + 10,
                         {"quantity": 1}))
    values = account(mapper)
    assert (values["billing_status"], values["seats"], values["mrr"]) == ("past_due", 2, 100.0)


def test_mrr_lost_is_what_the_subscription_contributed_just_before(mapper: Mapper) -> None:
    deliver(mapper, stripe_event("evt_t", "customer.subscription.created", sub("sub_t", status="trialing"), T0),
            stripe_event("evt_t_del", "customer.subscription.deleted", sub("sub_t", status="canceled"), T0 + 5))
    with mapper.store.engine.connect() as connection:
        payload = json.loads(connection.execute(select(track_events.c.payload)
                                                .where(track_events.c.event_id == "evt_t_del")).scalar_one())
    assert payload["properties"]["mrr_lost"] == 0.0
    assert account(mapper)["billing_status"] == "canceled"


def test_linked_customer_resolves_after_deletion(mapper: Mapper, tmp_path: Path) -> None:
    csv_file = tmp_path / "links.csv"
    csv_file.write_text("customer_id,account_id\ncus_1,acme\n")
    assert links.import_csv(mapper.store.engine, "stripe", csv_file, 1.0) == 1
    bare = sub("sub_x")
    bare["metadata"] = {}
    deliver(mapper, stripe_event("evt_x", "customer.subscription.created", bare, T0))
    assert account(mapper)["mrr"] == 50.0


def test_link_file_without_the_columns_is_refused(tmp_path: Path) -> None:
    csv_file = tmp_path / "links.csv"
    csv_file.write_text("customer,account\ncus_1,acme\n")
    with pytest.raises(links.LinkFileError, match="customer_id, account_id"):
        links.read_csv(csv_file)


def deliver_together(mapper: Mapper, *events: Event) -> None:
    """Store every event first, so the worker maps them in one batch."""
    mapper.store.ingest_many([Incoming(event, Clock.now) for event in events])
    while mapper.run_batch():
        pass


def test_a_batch_sees_its_earlier_events_of_the_same_account_and_subscription(
    mapper: Mapper, monkeypatch: pytest.MonkeyPatch,
) -> None:
    locked: list[int] = []
    monkeypatch.setattr(Mapper, "_write", lambda self, chunk: locked.append(len(chunk)))
    deliver_together(
        mapper,
        stripe_event("evt_a", "customer.subscription.created", sub("sub_a", amount=5000, quantity=3), T0),
        stripe_event("evt_b", "customer.subscription.created", sub("sub_b", amount=3000, lookup="addon"), T0 + 1),
        stripe_event("evt_a_del", "customer.subscription.deleted", sub("sub_a", status="canceled"), T0 + 2))
    assert mapper.store.count_by_status() == {"mapped": 3}
    assert account(mapper)["mrr"] == 30.0  # each roll-up saw the snapshots written before it in the batch
    with mapper.store.engine.connect() as connection:
        payload = json.loads(connection.execute(select(track_events.c.payload)
                                                .where(track_events.c.event_id == "evt_a_del")).scalar_one())
    assert payload["properties"]["mrr_lost"] == 150.0  # from evt_a's snapshot, the prior of the same batch
    assert locked == []  # dependent events were split off, not caught by the check and mapped again


def test_a_change_between_reading_and_writing_is_mapped_again_under_the_lock(
    mapper: Mapper, monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = Mapper(mapper.settings, mapper.store, mapper.mappings, mapper.enricher, "w2", mapper.clock)
    mapper.store.ingest(stripe_event("evt_a", "customer.subscription.created", sub("sub_a", amount=5000), T0),
                        now=Clock.now)
    planned = Mapper._plan

    def plan_then_race(self: Mapper, chunk: list[Any]) -> Any:
        found = planned(self, chunk)
        if self.worker_id == "w1":  # another worker maps a subscription of the same account meanwhile
            other.store.ingest(stripe_event("evt_b", "customer.subscription.created",
                                            sub("sub_b", amount=3000, lookup="addon"), T0 + 1), now=Clock.now)
            assert other.run_batch() == 1
        return found
    monkeypatch.setattr(Mapper, "_plan", plan_then_race)

    assert mapper.run_batch() == 1
    assert mapper.store.count_by_status() == {"mapped": 2}
    assert account(mapper)["mrr"] == 80.0  # evt_a was rolled up again with sub_b in it
    with mapper.store.engine.connect() as connection:
        assert connection.execute(select(billing_accounts.c.revision)).scalar_one() == 2


def test_claim_refuses_a_state_whose_account_moved_on(mapper: Mapper) -> None:
    event = stripe_event("evt_a", "customer.subscription.created", sub("sub_a"), T0)
    with reading(mapper.store.engine) as reader:
        prepared = billing_state.prepare(reader, event, {}, "acme", Clock.now, lock=False)
    assert prepared.revision == 1
    with mapper.store.transaction() as connection:
        assert billing_state.claim(connection, prepared, Clock.now)
    with mapper.store.transaction() as connection:  # the same read again: its revision is taken
        assert not billing_state.claim(connection, prepared, Clock.now)


def test_try_rolls_the_account_up_from_the_stored_state_or_says_it_saw_only_the_event(
        mapper: Mapper, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A late deletion of an old subscription, tried alone, would show `canceled, mrr 0`; the pipeline gives
    `active, 90` (the new subscription): `bridge try` reads the stored state, or says it saw only this event."""
    from bridge.cli.main import main

    deliver(mapper,
            stripe_event("evt_old", "customer.subscription.created", sub("sub_old", amount=5000), T0),
            stripe_event("evt_new", "customer.subscription.created", sub("sub_new", amount=9000), T0 + 20))
    late = stripe_event("evt_old_del", "customer.subscription.deleted",
                        sub("sub_old", status="canceled", amount=5000, canceled_at=T0 + 10), T0 + 10)
    path = tmp_path / "late.json"
    path.write_text(json.dumps(late.payload))
    (tmp_path / "late.enrichment.json").write_text(json.dumps({"customer": {"id": "cus_1", "object": "customer"}}))
    monkeypatch.setenv("BRIDGE_MAPPINGS_DIR", str(ROOT / "mappings"))

    def tried(database_url: str) -> tuple[dict[str, Any], list[str]]:
        monkeypatch.setenv("DATABASE_URL", database_url)
        assert main(["try", str(path), "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        values = {k: v for request in report["requests"] if request["path"].startswith("/api/v1/metadata")
                  for row in request["body"] for k, v in row["values"].items()}
        return values, report["notes"]

    values, notes = tried(sqlite_url)
    assert (values["billing_status"], values["mrr"]) == ("active", 90.0)
    assert "account roll-up from the stored state: 2 subscription(s) of account acme (read only)" in notes
    assert account(mapper)["mrr"] == 140.0  # read only: the deletion was tried, not delivered
    values, notes = tried(f"sqlite:///{tmp_path / 'none.db'}")
    assert (values["billing_status"], values["mrr"]) == ("canceled", 0.0)
    assert any(note.startswith("the account roll-up saw only this event") for note in notes)
