"""`bridge purge --customer`: what goes, what stays, and that nothing left behind stops the worker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bridge.mapping import load_mappings
from bridge.pendo import outbox as ob
from bridge.pendo.outbox import Outbox
from bridge.providers import Event
from bridge.providers.stripe.enrichment import Enricher, RateBudget
from bridge.store import store as st
from bridge.store.db import make_engine, migrate
from bridge.store.purge import Purged, purge_customer
from bridge.store.schema import customer_links, events, metadata, track_events
from bridge.store.store import Incoming, Store
from bridge.worker.loop import Worker, build_worker
from bridge.worker.mapper import Mapper
from tests.conftest import ROOT, make_settings
from tests.fakes.pendo import FakePendo

T0 = 1_767_225_600
PII = ("Jane Roe", "555 0100", "jane@roe.example")
CONTACT = """\
rules:
  - name: contact
    provider: stripe
    events: ["customer.created", "customer.updated"]
    account: {contact_name: "object.name", contact_phone: "object.phone"}
"""


class Clock:
    now = float(T0 + 600)

    def __call__(self) -> float:
        return self.now


def customer(customer_id: str, account: str, name: str, phone: str, email: str) -> dict[str, Any]:
    return {"id": customer_id, "object": "customer", "name": name, "phone": phone, "email": email,
            "metadata": {"pendo_account_id": account, "pendo_visitor_id": email}}


def subscription(customer_id: str, account: str, email: str, contact: str) -> dict[str, Any]:
    price = {"id": f"price_{account}", "object": "price", "billing_scheme": "per_unit", "currency": "usd",
             "lookup_key": "pro", "nickname": f"Pro for {contact}", "unit_amount": 5000,
             "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"}}
    return {"id": f"sub_{account}", "object": "subscription", "status": "active", "currency": "usd",
            "customer": customer_id, "cancel_at": None, "cancel_at_period_end": False, "canceled_at": None,
            "trial_end": None, "pause_collection": None,
            "metadata": {"pendo_account_id": account, "pendo_visitor_id": email, "contact": contact},
            "items": {"data": [{"id": f"si_{account}", "quantity": 1, "price": price,
                                "current_period_start": T0, "current_period_end": T0 + 2_592_000}]}}


def stripe_event(event_id: str, event_type: str, obj: dict[str, Any]) -> Event:
    body = {"id": event_id, "object": "event", "type": event_type, "created": T0,
            "api_version": "2025-03-31.basil", "data": {"object": obj}}
    customer_id = obj["id"] if obj["object"] == "customer" else obj["customer"]
    return Event(provider="stripe", id=event_id, type=event_type, created=float(T0), livemode=True,
                 api_version="2025-03-31.basil", connect_account=None, customer_id=customer_id, payload=body)


@pytest.fixture
def mapper(database_url: str, tmp_path: Path) -> Mapper:
    (tmp_path / "contact.yaml").write_text(CONTACT)
    settings = make_settings(database_url, pendo_track_secret="track")
    migrate(settings)
    store = Store(make_engine(settings))
    clock = Clock()
    enricher = Enricher(store, None, RateBudget(1000.0, sleep=lambda _: None), clock)
    return Mapper(settings, store, load_mappings(ROOT / "mappings", tmp_path), enricher, "w1", clock)


def two_customers(mapper: Mapper) -> None:
    """Jane (cus_jane, account roe) and Max (cus_max, account mux), each a customer event and a subscription,
    mapped; plus cached objects naming Jane (a charge) or named by her events (her price)."""
    found: list[Event] = []
    for customer_id, account, name, phone, email in (("cus_jane", "roe", "Jane Roe", "+1 555 0100", PII[2]),
                                                     ("cus_max", "mux", "Max Mux", "+1 555 0199", "max@mux.example")):
        found.append(stripe_event(f"evt_c_{account}", "customer.created", customer(customer_id, account, name, phone,
                                                                                    email)))
        found.append(stripe_event(f"evt_s_{account}", "customer.subscription.created",
                                  subscription(customer_id, account, email, name)))
    mapper.store.ingest_many([Incoming(event, mapper.clock()) for event in found])
    assert mapper.run_batch() == 4
    mapper.store.cache_object("stripe", "ch_jane1", {"id": "ch_jane1", "object": "charge", "customer": "cus_jane"}, 1.0)
    mapper.store.cache_object("stripe", "price_roe", {"id": "price_roe", "nickname": "Pro for Jane Roe"}, 1.0)
    mapper.store.cache_object("stripe", "price_mux", {"id": "price_mux", "nickname": "Pro for Max Mux"}, 1.0)


def every_row(store: Store) -> str:
    """Every row of every table, as one text to search."""
    with store.engine.connect() as connection:
        return json.dumps({table.name: [dict(row) for row in connection.execute(select(table)).mappings()]
                           for table in metadata.sorted_tables}, default=str)


def test_purge_customer_leaves_nothing_of_the_customer_but_ids(mapper: Mapper) -> None:
    two_customers(mapper)
    before = every_row(mapper.store)
    assert all(marker in before for marker in PII)
    done = purge_customer(mapper.store.engine, "cus_jane")
    after = every_row(mapper.store)
    assert [marker for marker in PII if marker in after] == []
    assert all(marker in after for marker in ("Max Mux", "555 0199", "max@mux.example", "Pro for Max Mux"))
    assert (done.events, done.subscriptions, done.cached_objects) == (2, 1, 3)  # customer, charge, price
    assert done.field_values > 0 and done.track_events == 1
    with mapper.store.engine.connect() as connection:  # what stays: the ledger and the link
        ledger = {row.event_id: row for row in connection.execute(select(events))}
        links = {row.customer_id: row.account_id for row in connection.execute(select(customer_links))}
    assert ledger["evt_s_roe"].customer_id == "cus_jane" and ledger["evt_s_roe"].status == st.MAPPED
    assert ledger["evt_s_roe"].payload is None and json.loads(ledger["evt_s_roe"].detail) == {"purged": True}
    assert links["cus_jane"] == "roe"
    assert mapper.store.ingest(stripe_event("evt_s_roe", "customer.subscription.created",
                                            subscription("cus_jane", "roe", PII[2], "x")), 9.0) is True


def test_purge_customer_of_another_provider_leaves_the_same_id_alone(mapper: Mapper) -> None:
    two_customers(mapper)
    before = every_row(mapper.store)
    assert purge_customer(mapper.store.engine, "cus_jane", provider="other") == Purged()
    assert every_row(mapper.store) == before
    assert purge_customer(mapper.store.engine, "cus_jane", provider="stripe").events == 2


def test_purge_customer_marks_unsent_track_events_purged_and_the_others_still_go(mapper: Mapper) -> None:
    two_customers(mapper)
    purge_customer(mapper.store.engine, "cus_jane")
    box = Outbox(mapper.store.engine)
    claimed = box.claim_tracks("w1", now=mapper.clock(), lease=30, limit=10)
    assert [json.loads(json.dumps(track.payload))["accountId"] for track in claimed] == ["mux"]
    assert box.counts()["track"] == {ob.PENDING: 1, ob.PURGED: 1}


def test_purge_customer_stops_events_not_yet_mapped_from_being_mapped(mapper: Mapper) -> None:
    mapper.store.ingest(stripe_event("evt_late", "customer.updated",
                                     customer("cus_jane", "roe", "Jane Roe", "+1 555 0100", PII[2])), 1.0)
    mapper.store.ingest(stripe_event("evt_other", "customer.updated",
                                     customer("cus_max", "mux", "Max Mux", "+1 555 0199", "m@x.example")), 1.0)
    [claimed_late, _] = mapper.store.claim_events("w2", now=mapper.clock(), lease=30, limit=10)
    done = purge_customer(mapper.store.engine, "cus_jane")  # while another worker holds evt_late
    assert done.events == 1
    mapper.map_one(claimed_late)  # that worker's results cannot be committed: its claim was released
    assert mapper.store.count_by_status() == {st.PURGED: 1, st.RECEIVED: 1}
    assert "Jane Roe" not in every_row(mapper.store)


def test_outbox_claim_marks_an_unreadable_track_row_failed_and_returns_the_others(mapper: Mapper) -> None:
    box = Outbox(mapper.store.engine)
    with mapper.store.transaction() as connection:
        for event_id in ("evt_1", "evt_2", "evt_3"):
            ob.enqueue_track(connection, event_id, "r", {"type": "track", "event": event_id}, 1000, "v", 1.0)
        connection.execute(track_events.update().where(track_events.c.event_id == "evt_1").values(payload=None))
        connection.execute(track_events.update().where(track_events.c.event_id == "evt_2").values(payload="{bad"))
    claimed = box.claim_tracks("w1", now=5.0, lease=30, limit=10)
    assert [track.payload["event"] for track in claimed] == ["evt_3"]
    assert box.counts()["track"] == {ob.FAILED: 2, ob.PENDING: 1}
    reasons = {f["event_id"]: f["reason"] for f in box.recent_failures(10)}
    assert reasons == {"evt_1": ob.UNREADABLE, "evt_2": ob.UNREADABLE}


def worker_track(worker: Worker, event_id: str, customer_id: str, clock: Clock) -> None:
    """A mapped event of `customer_id` and the track event it produced, waiting to be sent."""
    body = {"id": event_id, "object": "event", "type": "invoice.paid", "created": clock.now,
            "data": {"object": {"id": "in_1", "object": "invoice", "customer": customer_id}}}
    worker.store.ingest(Event(provider="stripe", id=event_id, type="invoice.paid", created=clock.now, livemode=True,
                              api_version="2025-03-31.basil", connect_account=None, customer_id=customer_id,
                              payload=body), clock.now, status=st.MAPPED)
    payload = {"type": "track", "event": f"Seen {customer_id}", "visitorId": "v", "accountId": "a",
               "timestamp": int(clock.now * 1000), "properties": {}, "context": {}}
    with worker.store.transaction() as connection:
        ob.enqueue_track(connection, event_id, "r", payload, int(clock.now * 1000), "v1", clock.now)


def test_purge_customer_then_the_worker_sends_the_other_customers_track_events(database_url: str,
                                                                               pendo: FakePendo) -> None:
    clock = Clock()
    settings = make_settings(database_url, pendo_integration_key="key", pendo_track_secret="track",
                             pendo_api_base=pendo.url, pendo_data_base=pendo.url)
    migrate(settings)
    worker = build_worker(settings, clock=clock)
    worker_track(worker, "evt_jane", "cus_jane", clock)
    worker_track(worker, "evt_max", "cus_max", clock)
    purge_customer(worker.store.engine, "cus_jane")
    worker.start_up()
    worker.run_once()
    worker.delivery.close()
    assert [t["event"] for t in pendo.track_events()] == ["Seen cus_max"]
    assert worker.delivery.outbox.counts()["track"] == {ob.DELIVERED: 1, ob.PURGED: 1}


def test_purge_customer_marks_an_event_held_for_a_newer_api_version_purged(mapper: Mapper) -> None:
    """A held event waits for `bridge replay --status held`; without its payload it could never be mapped."""
    mapper.store.ingest(stripe_event("evt_held", "customer.updated",
                                     customer("cus_jane", "roe", "Jane Roe", "+1 555 0100", PII[2])), 1.0)
    with mapper.store.transaction() as connection:
        connection.execute(events.update().values(status=st.HELD))
    purge_customer(mapper.store.engine, "cus_jane")
    assert mapper.store.count_by_status() == {st.PURGED: 1}
    assert "Jane Roe" not in every_row(mapper.store)
