"""The mapper: stored events through the shipped mappings into the outbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses
from sqlalchemy import Table, select

from bridge.mapping import load_mappings
from bridge.pendo import outbox as ob
from bridge.providers import Event
from bridge.providers.stripe.enrichment import Enricher, RateBudget, stripe_client
from bridge.providers.stripe.webhook import StripeProvider
from bridge.store import store as st
from bridge.store.db import make_engine, migrate
from bridge.store.schema import events, field_values, subscriptions, track_events
from bridge.store.store import Store
from bridge.worker.mapper import MAX_ENRICHMENT_TRIES, Mapper, Ready
from tests.conftest import ROOT, SECRET, make_settings

MAPPINGS = load_mappings(ROOT / "mappings")
FIXTURES = ROOT / "tests" / "fixtures" / "stripe"
CUSTOMER_ID = "cus_RxT4bV9mQp2LkA"
CREATED = 1_735_700_000  # subscription_created_2024-06-20.json
SUBSCRIPTION_FIELDS = {"billing_plan", "billing_status", "mrr", "billing_currency", "billing_interval", "seats",
                       "current_period_end", "cancel_at_period_end", "collection_paused",
                       "billing_interval_count",
                       "trial_end", "cancels_at", "canceled_at"}  # the three dates this subscription lacks: cleared


class Clock:
    def __init__(self) -> None:
        self.now = CREATED + 60.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def build(database_url: str, clock: Clock, client_base: str | None = None, **overrides: Any) -> Mapper:
    settings = make_settings(database_url, **{"pendo_track_secret": "track", "claim_seconds": 60.0, **overrides})
    migrate(settings)
    store = Store(make_engine(settings))
    client = stripe_client("sk_test_mapper", client_base) if client_base else None
    enricher = Enricher(store, client, RateBudget(1000.0, sleep=lambda _: None), clock)
    return Mapper(settings, store, MAPPINGS, enricher, "w1", clock)


def knowing_the_customer(mapper: Mapper) -> Mapper:
    """The mapper with the subscriptions' customer in its cache, as its `customer.created` event leaves it: known,
    with no customer-wide discount and no Pendo ids of its own."""
    customer = {"id": CUSTOMER_ID, "object": "customer", "discount": None, "metadata": {}}
    mapper.store.cache_object("stripe", CUSTOMER_ID, customer, mapper.clock())
    return mapper


@pytest.fixture
def mapper(database_url: str, clock: Clock) -> Mapper:
    return knowing_the_customer(build(database_url, clock))


def stripe_event(name: str, change: Callable[[dict[str, Any]], object] = lambda body: None) -> Event:
    """A fixture event, changed in place by `change`, parsed as the webhook view parses it."""
    body = json.loads((FIXTURES / name).read_text())
    change(body)
    return StripeProvider((SECRET,)).parse(json.dumps(body).encode())


def with_ids(account: str | None = "acme-corp", visitor: str | None = "user-42") -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body["data"]["object"]["metadata"] = {
            key: value for key, value in (("pendo_account_id", account), ("pendo_visitor_id", visitor)) if value}
    return change


def subscription_created(account: str | None = "acme-corp") -> Event:
    return stripe_event("subscription_created_2024-06-20.json", with_ids(account))


def customer_updated(account: str = "acme-corp") -> Event:
    body = {"id": "evt_customer_updated", "object": "event", "type": "customer.updated", "created": CREATED + 30,
            "api_version": "2024-06-20", "livemode": False,
            "data": {"object": {"id": CUSTOMER_ID, "object": "customer", "email": "ops@acme.example",
                                "metadata": {"pendo_account_id": account, "pendo_visitor_id": "user-42"}},
                     "previous_attributes": {"metadata": {}}}}
    return StripeProvider((SECRET,)).parse(json.dumps(body).encode())


def rows(store: Store, table: Table) -> list[dict[str, Any]]:
    with store.engine.connect() as connection:
        return [dict(row) for row in connection.execute(select(table)).mappings()]


def event_row(store: Store, event_id: str) -> dict[str, Any]:
    [row] = [row for row in rows(store, events) if row["event_id"] == event_id]
    return row


def ingest_and_map(mapper: Mapper, event: Event) -> dict[str, Any]:
    mapper.store.ingest(event, now=mapper.clock())
    assert mapper.run_batch() >= 1
    return event_row(mapper.store, event.id)


def test_mapper_subscription_with_account_metadata_is_mapped(mapper: Mapper) -> None:
    row = ingest_and_map(mapper, subscription_created())
    assert row["status"] == st.MAPPED
    assert row["account_id"] == "acme-corp"
    assert row["claimed_by"] is None and row["processed_at"] == mapper.clock()
    fields = {r["field"]: r for r in rows(mapper.store, field_values)}
    assert set(fields) == SUBSCRIPTION_FIELDS
    assert {(r["kind"], r["entity_id"], r["state"]) for r in fields.values()} == {("account", "acme-corp", ob.PENDING)}
    assert json.loads(fields["billing_status"]["value"]) == "active"
    assert json.loads(fields["mrr"]["value"]) == 147.0
    assert fields["mrr"]["source_time"] == CREATED * 1000
    [track] = rows(mapper.store, track_events)
    assert track["state"] == ob.PENDING and track["rule"] == "subscription-fields"
    payload = json.loads(track["payload"])
    assert (payload["event"], payload["visitorId"], payload["accountId"]) == (
        "Subscription Created", "user-42", "acme-corp")
    assert track["timestamp_ms"] == CREATED * 1000


def test_mapper_records_the_mapping_version_on_event_and_outbox_rows(mapper: Mapper) -> None:
    row = ingest_and_map(mapper, subscription_created())
    assert MAPPINGS.version
    assert row["mapping_version"] == MAPPINGS.version
    assert {r["mapping_version"] for r in rows(mapper.store, field_values)} == {MAPPINGS.version}
    assert {r["mapping_version"] for r in rows(mapper.store, track_events)} == {MAPPINGS.version}


def test_mapper_event_without_account_id_is_unresolved(mapper: Mapper) -> None:
    row = ingest_and_map(mapper, subscription_created(account=None))
    assert row["status"] == st.UNRESOLVED
    assert json.loads(row["detail"])["unresolved"] == ["subscription-fields"]
    assert row["account_id"] is None
    assert rows(mapper.store, field_values) == []
    assert rows(mapper.store, track_events) == []


def test_mapper_customer_updated_resolves_unresolved_events_through_the_cache(mapper: Mapper) -> None:
    unresolved = subscription_created(account=None)
    assert ingest_and_map(mapper, unresolved)["status"] == st.UNRESOLVED

    assert ingest_and_map(mapper, customer_updated())["status"] == st.UNMAPPED  # no rule for customer.updated
    assert event_row(mapper.store, unresolved.id)["status"] == st.RECEIVED
    assert rows(mapper.store, field_values) == []

    assert mapper.run_batch() == 1
    row = event_row(mapper.store, unresolved.id)
    assert (row["status"], row["account_id"]) == (st.MAPPED, "acme-corp")
    assert {(r["entity_id"], r["field"]) for r in rows(mapper.store, field_values)} == {
        ("acme-corp", name) for name in SUBSCRIPTION_FIELDS}
    [track] = rows(mapper.store, track_events)
    assert json.loads(track["payload"])["accountId"] == "acme-corp"


def test_mapper_customer_updated_leaves_other_customers_unresolved(mapper: Mapper) -> None:
    other = stripe_event("subscription_created_2024-06-20.json", lambda body: (
        with_ids(None)(body), body["data"]["object"].update(customer="cus_other"), body.update(id="evt_other")))
    assert ingest_and_map(mapper, other)["status"] == st.UNRESOLVED
    ingest_and_map(mapper, customer_updated())
    assert mapper.run_batch() == 0
    assert event_row(mapper.store, "evt_other")["status"] == st.UNRESOLVED


def test_mapper_event_type_no_rule_uses_is_unmapped(mapper: Mapper) -> None:
    def charge(body: dict[str, Any]) -> None:
        body.update(id="evt_charge", type="charge.succeeded")
        body["data"]["object"] = {"id": "ch_1", "object": "charge", "customer": CUSTOMER_ID, "amount": 4900,
                                  "currency": "usd", "metadata": {"pendo_account_id": "acme-corp"}}

    row = ingest_and_map(mapper, stripe_event("subscription_created_2024-06-20.json", charge))
    assert row["status"] == st.UNMAPPED
    assert json.loads(row["detail"])["matched"] == []
    assert rows(mapper.store, field_values) == rows(mapper.store, track_events) == []


def test_mapper_connect_event_is_not_mapped_to_the_account(mapper: Mapper) -> None:
    connect = stripe_event("subscription_created_2024-06-20.json",
                           lambda body: (with_ids()(body), body.update(id="evt_connect", account="acct_1")))
    assert connect.connect_account == "acct_1"
    row = ingest_and_map(mapper, connect)
    assert row["status"] == st.UNMAPPED
    assert row["account_id"] is None
    assert rows(mapper.store, field_values) == rows(mapper.store, track_events) == []


def test_mapper_without_track_secret_writes_no_track_rows(database_url: str, clock: Clock) -> None:
    mapper = knowing_the_customer(build(database_url, clock, pendo_track_secret=None))
    assert mapper.settings.pendo_track_secret is None
    row = ingest_and_map(mapper, subscription_created())
    assert row["status"] == st.MAPPED
    assert {r["field"] for r in rows(mapper.store, field_values)} == SUBSCRIPTION_FIELDS
    assert rows(mapper.store, track_events) == []


def test_mapper_track_event_older_than_seven_days_is_expired(mapper: Mapper, clock: Clock) -> None:
    clock.now = CREATED + 8 * 86400
    row = ingest_and_map(mapper, subscription_created())
    assert row["status"] == st.MAPPED
    assert [r["state"] for r in rows(mapper.store, track_events)] == [ob.EXPIRED]
    assert any("7-day window" in warning for warning in json.loads(row["detail"])["warnings"])
    assert {r["state"] for r in rows(mapper.store, field_values)} == {ob.PENDING}  # metadata has no window


def test_mapper_lost_lease_writes_nothing_and_the_new_owner_maps_once(
    mapper: Mapper, clock: Clock, caplog: pytest.LogCaptureFixture,
) -> None:
    second = dataclasses.replace(mapper, worker_id="w2")
    mapper.store.ingest(subscription_created(), now=clock())
    [first_claim] = mapper.store.claim_events("w1", clock(), 60.0, 10)
    clock.now += 61  # w1 stalls past its lease
    [second_claim] = second.store.claim_events("w2", clock(), 60.0, 10)

    with caplog.at_level(logging.WARNING, logger="bridge.mapper"):
        mapper.map_one(first_claim)
    assert "lease ran out" in caplog.text
    assert rows(mapper.store, field_values) == rows(mapper.store, track_events) == []  # rolled back whole
    assert event_row(mapper.store, first_claim.event.id)["claimed_by"] == "w2"

    second.map_one(second_claim)
    mapper.map_one(first_claim)  # w1 wakes up again: still not its event
    row = event_row(mapper.store, first_claim.event.id)
    assert (row["status"], row["claimed_by"]) == (st.MAPPED, None)
    assert len(rows(mapper.store, track_events)) == 1
    fields = rows(mapper.store, field_values)
    assert {r["field"] for r in fields} == SUBSCRIPTION_FIELDS
    assert {(r["version"], r["event_id"]) for r in fields} == {(1, first_claim.event.id)}


def test_mapper_two_workers_mapping_the_same_event_leave_one_track_row(mapper: Mapper, clock: Clock) -> None:
    second = dataclasses.replace(mapper, worker_id="w2")
    mapper.store.ingest(subscription_created(), now=clock())
    [first_claim] = mapper.store.claim_events("w1", clock(), 60.0, 10)
    clock.now += 61
    [second_claim] = second.store.claim_events("w2", clock(), 60.0, 10)
    second.map_one(second_claim)
    mapper.map_one(first_claim)
    second.map_one(second_claim)  # a retried call by the owner after it finished
    assert len(rows(mapper.store, track_events)) == 1
    assert len(rows(mapper.store, field_values)) == len(SUBSCRIPTION_FIELDS)
    assert mapper.store.count_by_status() == {st.MAPPED: 1}


def test_mapper_run_batch_maps_only_due_unclaimed_events(mapper: Mapper, clock: Clock) -> None:
    mapper.store.ingest(subscription_created(), now=clock())
    mapper.store.claim_events("w9", clock(), 60.0, 10)
    assert mapper.run_batch() == 0
    clock.now += 61
    assert mapper.run_batch() == 1
    assert mapper.store.count_by_status() == {st.MAPPED: 1}


def subscriptions_for(*accounts: str) -> list[Event]:
    """One subscription event per account, each with its own ids, one second apart."""
    def change(index: int, account: str) -> Callable[[dict[str, Any]], None]:
        def apply(body: dict[str, Any]) -> None:
            with_ids(account)(body)
            body["id"], body["created"] = f"evt_{account}", CREATED + index
            body["data"]["object"]["id"] = f"sub_{account}"
        return apply
    return [stripe_event("subscription_created_2024-06-20.json", change(index, account))
            for index, account in enumerate(accounts)]


def test_mapper_batch_for_one_subscription_ends_in_the_newest_state(mapper: Mapper, clock: Clock) -> None:
    first = subscription_created()
    later = stripe_event("subscription_created_2024-06-20.json", lambda body: (
        with_ids()(body), body.update(id="evt_later", created=CREATED + 5, type="customer.subscription.updated"),
        body["data"]["object"].update(status="canceled")))
    mapper.store.ingest_many([st.Incoming(event, clock()) for event in (first, later)])
    assert mapper.run_batch() == 2
    assert mapper.store.count_by_status() == {st.MAPPED: 2}
    status = [r for r in rows(mapper.store, field_values) if r["field"] == "billing_status"]
    assert [(r["value"], r["event_id"]) for r in status] == [('"canceled"', "evt_later")]


def test_mapper_a_lost_lease_in_a_batch_costs_only_that_event(
    mapper: Mapper, clock: Clock, caplog: pytest.LogCaptureFixture,
) -> None:
    events_ = subscriptions_for("acct-a", "acct-b", "acct-c")
    mapper.store.ingest_many([st.Incoming(event, clock()) for event in events_])
    claimed = mapper.store.claim_events("w1", clock(), 60.0, 10)
    clock.now += 61  # w1 stalls past its lease; w2 takes the oldest event
    [taken] = mapper.store.claim_events("w2", clock(), 60.0, 1)
    assert taken.event.id == "evt_acct-a"

    with caplog.at_level(logging.WARNING, logger="bridge.mapper"):
        mapper.map_events(claimed)
    assert "lease ran out" in caplog.text
    by_id = {row["event_id"]: row for row in rows(mapper.store, events)}
    assert by_id["evt_acct-a"]["status"] == st.RECEIVED and by_id["evt_acct-a"]["claimed_by"] == "w2"
    assert [by_id[f"evt_acct-{name}"]["status"] for name in "bc"] == [st.MAPPED, st.MAPPED]
    assert {r["entity_id"] for r in rows(mapper.store, field_values)} == {"acct-b", "acct-c"}


def test_mapper_an_event_the_mapping_code_fails_on_is_marked_failed_and_the_rest_mapped(
    mapper: Mapper, clock: Clock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    events_ = subscriptions_for("acct-a", "acct-b", "acct-c")
    mapper.store.ingest_many([st.Incoming(event, clock()) for event in events_])
    real = Mapper._evaluate

    def broken(self: Mapper, connection: Any, item: Ready, *args: Any, **kwargs: Any) -> Any:
        if item.stored.event.id == "evt_acct-b":
            raise ValueError("a bug in a mapping function")
        return real(self, connection, item, *args, **kwargs)
    monkeypatch.setattr(Mapper, "_evaluate", broken)

    with caplog.at_level(logging.ERROR, logger="bridge.mapper"):
        assert mapper.run_batch() == 3
    by_id = {row["event_id"]: row for row in rows(mapper.store, events)}
    assert [by_id[f"evt_acct-{name}"]["status"] for name in "abc"] == [st.MAPPED, st.FAILED, st.MAPPED]
    assert json.loads(by_id["evt_acct-b"]["detail"]) == {"error": "ValueError: a bug in a mapping function"}
    assert by_id["evt_acct-b"]["claimed_by"] is None
    assert {r["entity_id"] for r in rows(mapper.store, field_values)} == {"acct-a", "acct-c"}
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.event_id == "evt_acct-b" and "marked failed" in record.getMessage()


HEAVY_RULE = """\
rules:
  - name: heavy
    provider: stripe
    events: ["customer.subscription.*"]
    when: "object.metadata.pendo_account_id == 'acct-b'"
    account:
      huge: "([[object.id] * 10000] * 10000) | map('string') | map('length') | sum"
"""


def test_mapper_an_event_over_an_evaluation_bound_is_failed_naming_rule_and_field_and_the_rest_mapped(
    mapper: Mapper, clock: Clock, tmp_path: Any,
) -> None:
    (tmp_path / "heavy.yaml").write_text(HEAVY_RULE)
    mapper.mappings = load_mappings(ROOT / "mappings", tmp_path)
    mapper.store.ingest_many([st.Incoming(event, clock()) for event in subscriptions_for("acct-a", "acct-b", "acct-c")])
    started = time.monotonic()
    assert mapper.run_batch() == 3
    assert time.monotonic() - started < 5
    by_id = {row["event_id"]: row for row in rows(mapper.store, events)}
    assert [by_id[f"evt_acct-{name}"]["status"] for name in "abc"] == [st.MAPPED, st.FAILED, st.MAPPED]
    error = json.loads(by_id["evt_acct-b"]["detail"])["error"]
    assert error.startswith("EvaluationError: rule heavy: field huge: a repetition would build more than")
    assert {r["entity_id"] for r in rows(mapper.store, field_values)} == {"acct-a", "acct-c"}


STRIPE_BASE = "http://stripe.test"


@pytest.fixture
def stripe_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[responses.RequestsMock]:
    monkeypatch.setattr(time, "sleep", lambda _: None)  # the official client's own retry pauses
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{STRIPE_BASE}/v1/customers/{CUSTOMER_ID}", status=503,
                 json={"error": {"type": "api_error", "message": "down"}})
        yield mock


def test_mapper_enrichment_outage_retries_the_event_later(sqlite_url: str, clock: Clock,
                                                          stripe_down: responses.RequestsMock) -> None:
    mapper = build(sqlite_url, clock, client_base=STRIPE_BASE)
    row = ingest_and_map(mapper, subscription_created(account=None))
    assert row["status"] == st.RECEIVED
    assert row["attempts"] == 1 and row["next_attempt_at"] > clock()
    assert "retry" in json.loads(row["detail"])
    assert rows(mapper.store, field_values) == []
    assert mapper.run_batch() == 0  # not due yet


def test_mapper_last_enrichment_try_maps_with_the_stale_cache(sqlite_url: str, clock: Clock,
                                                              stripe_down: responses.RequestsMock) -> None:
    mapper = build(sqlite_url, clock, client_base=STRIPE_BASE)
    mapper.store.cache_object("stripe", CUSTOMER_ID, customer_updated().payload["data"]["object"], clock() - 3 * 86400)
    event = subscription_created(account=None)
    mapper.store.ingest(event, now=clock())
    for _ in range(MAX_ENRICHMENT_TRIES):
        clock.now += 3600
        assert mapper.run_batch() == 1
    row = event_row(mapper.store, event.id)
    assert (row["status"], row["account_id"]) == (st.MAPPED, "acme-corp")
    assert len(stripe_down.calls) == MAX_ENRICHMENT_TRIES * 3


def as_version(name: str, version: str, change: Callable[[dict[str, Any]], object] = lambda body: None,
               event_id: str | None = None) -> Event:
    def relabel(body: dict[str, Any]) -> None:
        body["api_version"] = version
        body["id"] = event_id or body["id"]
        change(body)
    return stripe_event(name, relabel)


def periods_moved(body: dict[str, Any]) -> None:
    for item in body["data"]["object"]["items"]["data"]:
        item["billing_period"] = {"start": item.pop("current_period_start"), "end": item.pop("current_period_end")}


def alert_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "alert", None) == "newer_api_version"]


def test_mapper_newer_version_in_the_known_shape_is_mapped_with_a_warning(mapper: Mapper) -> None:
    row = ingest_and_map(mapper, as_version("subscription_shapes_clover.json", "2027-03-24.fig"))
    assert row["status"] == st.MAPPED and row["account_id"] == "globex"
    assert any("2027-03-24.fig is newer than this bridge knows" in w for w in json.loads(row["detail"])["warnings"])
    assert json.loads(next(r for r in rows(mapper.store, field_values) if r["field"] == "mrr")["value"]) == 120.0
    assert [r["subscription_id"] for r in rows(mapper.store, subscriptions)] == ["sub_1SmShapes3eZvKYlo2C"]


def test_mapper_newer_version_failing_the_check_is_held_and_not_retried(mapper: Mapper, clock: Clock) -> None:
    row = ingest_and_map(mapper, as_version("subscription_shapes_clover.json", "2027-03-24.fig", periods_moved))
    assert row["status"] == st.HELD and row["claimed_by"] is None
    assert "held, since the fields the mappings read" in json.loads(row["detail"])["warnings"][0]
    assert rows(mapper.store, field_values) == [] and rows(mapper.store, track_events) == []
    assert rows(mapper.store, subscriptions) == []  # its snapshot is not billing state
    clock.now += 3600
    assert mapper.run_batch() == 0
    assert mapper.store.count_by_status() == {st.HELD: 1}


def test_mapper_announces_a_newer_version_once_for_the_deployment(
    mapper: Mapper, caplog: pytest.LogCaptureFixture,
) -> None:
    other = dataclasses.replace(mapper, worker_id="w2", _announced=set())
    with caplog.at_level(logging.ERROR, logger="bridge.alerts"):
        ingest_and_map(mapper, as_version("subscription_shapes_clover.json", "2027-03-24.fig", event_id="evt_f1"))
        ingest_and_map(other, as_version("subscription_shapes_clover.json", "2027-03-24.fig", periods_moved,
                                         event_id="evt_f2"))
        ingest_and_map(other, as_version("subscription_shapes_clover.json", "2027-05-26.fig", event_id="evt_f3"))
        ingest_and_map(mapper, as_version("subscription_shapes_clover.json", "2026-10-28.endive", event_id="evt_e"))
    assert [(r.provider, r.api_version) for r in alert_lines(caplog)] == [  # type: ignore[attr-defined]
        ("stripe", "2027-03-24.fig"), ("stripe", "2027-05-26.fig")]
    assert "upgrade bridge, then `bridge replay --status held`" in alert_lines(caplog)[0].getMessage()


def guest_checkout() -> Event:
    """A guest checkout (docs.stripe.com/payments/checkout/guest-customers): the session has no customer, and no
    client_reference_id or metadata names an account."""
    body = json.loads((ROOT / "mappings" / "tests" / "events" / "checkout_session_completed_2024-06-20.json")
                      .read_text())
    body["id"] = "evt_guest"
    body["data"]["object"].update(customer=None, client_reference_id=None, metadata={}, mode="payment",
                                  subscription=None)
    return StripeProvider((SECRET,)).parse(json.dumps(body).encode())


def test_mapper_skips_a_guests_event_with_its_reason_instead_of_leaving_it_unresolved(mapper: Mapper) -> None:
    row = ingest_and_map(mapper, guest_checkout())
    assert row["status"] == st.IGNORED
    detail = json.loads(row["detail"])
    assert detail["unresolved"] == ["checkout-completed"] and "guest" in detail["skipped"]
    assert rows(mapper.store, field_values) == [] and rows(mapper.store, track_events) == []
    unresolved = ingest_and_map(mapper, subscription_created(account=None))  # a customer's event still waits
    assert unresolved["status"] == st.UNRESOLVED
