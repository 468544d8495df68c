"""Enrichment: the official Stripe client against a mocked API, a real SQLite cache, an injected clock."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import requests
import responses
from responses import matchers
from sqlalchemy import select

from bridge.mapping import EvalOptions, evaluate, load_mappings
from bridge.mapping.operations import MetadataUpdate, TrackEvent
from bridge.providers import Event
from bridge.providers.stripe.enrichment import CACHE_SECONDS, Enricher, EnrichmentUnavailable, RateBudget, stripe_client
from bridge.store import links
from bridge.store import store as st
from bridge.store.db import make_engine, migrate
from bridge.store.schema import events, track_events
from bridge.store.store import Store
from bridge.worker.mapper import Mapper
from tests.conftest import ROOT, make_settings

API_BASE = "http://stripe.test"
API_KEY = "sk_test_enrichment"
CUSTOMER_URL = f"{API_BASE}/v1/customers/cus_1"
CUSTOMER = {"id": "cus_1", "object": "customer", "email": "ops@acme.example",
            "metadata": {"pendo_account_id": "acme"}}
CHARGE_URL = f"{API_BASE}/v1/charges/ch_1"
CHARGE = {"id": "ch_1", "object": "charge", "amount": 5000, "currency": "usd", "customer": "cus_1",
          "billing_details": {"name": "Ada Lovelace", "email": "ada@acme.example"}}
DISPUTE = {"id": "dp_1", "object": "dispute", "amount": 5000, "currency": "usd", "charge": "ch_1",
           "reason": "fraudulent", "status": "needs_response"}
PRICE_URL = f"{API_BASE}/v1/prices/price_tiered"
TIERS = [{"up_to": 10, "unit_amount": 1000, "flat_amount": None},
         {"up_to": None, "unit_amount": 800, "flat_amount": None}]
MAPPINGS = load_mappings(ROOT / "mappings")
OPTIONS = EvalOptions(date_format="iso", track_enabled=True)


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(sqlite_url: str) -> Store:
    settings = make_settings(sqlite_url)
    migrate(settings)
    return Store(make_engine(settings))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stripe_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The official client's sleeps between its own retries, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


def enricher(store: Store, clock: Clock, api_key: str | None = API_KEY) -> Enricher:
    client = stripe_client(api_key, API_BASE) if api_key else None
    return Enricher(store, client, RateBudget(1000.0, clock=clock, sleep=lambda _: None), clock)


def event(event_type: str = "customer.subscription.updated", obj: dict[str, Any] | None = None,
          customer: str | None = "cus_1") -> Event:
    obj = obj if obj is not None else {"id": "sub_1", "object": "subscription", "customer": customer}
    body = {"id": "evt_1", "object": "event", "type": event_type, "created": 1_700_000_000, "data": {"object": obj},
            "api_version": "2024-06-20"}
    return Event(provider="stripe", id="evt_1", type=event_type, created=1_700_000_000.0, livemode=True,
                 api_version="2024-06-20", connect_account=None, customer_id=customer, payload=body)


@responses.activate
def test_enricher_fetches_a_customer_once_then_serves_the_cache(store: Store, clock: Clock) -> None:
    responses.get(CUSTOMER_URL, json=CUSTOMER)
    subject = enricher(store, clock)
    first = subject.enrich(event())
    clock.now += 60
    second = subject.enrich(event())
    assert first == second == {"customer": CUSTOMER}
    assert len(responses.calls) == 1
    assert store.cached_object("stripe", "cus_1") == (CUSTOMER, 1_700_000_000.0)


@responses.activate
def test_enricher_refetches_a_customer_cached_for_longer_than_a_day(store: Store, clock: Clock) -> None:
    store.cache_object("stripe", "cus_1", {"id": "cus_1", "metadata": {}}, clock.now)
    responses.get(CUSTOMER_URL, json=CUSTOMER)
    subject = enricher(store, clock)
    assert subject.enrich(event())["customer"]["metadata"] == {}
    clock.now += CACHE_SECONDS + 1
    assert subject.enrich(event()) == {"customer": CUSTOMER}
    assert len(responses.calls) == 1


@responses.activate
def test_enricher_request_carries_the_key_as_bearer_to_the_configured_base(store: Store, clock: Clock) -> None:
    responses.get(CUSTOMER_URL, json=CUSTOMER)
    enricher(store, clock).enrich(event())
    [call] = responses.calls
    assert call.request.url == CUSTOMER_URL
    assert call.request.method == "GET"
    assert call.request.headers["Authorization"] == f"Bearer {API_KEY}"


@responses.activate
def test_enricher_customer_updated_refreshes_the_cache_without_a_request(store: Store, clock: Clock) -> None:
    store.cache_object("stripe", "cus_1", {"id": "cus_1", "object": "customer", "metadata": {}}, clock.now - 60)
    subject = enricher(store, clock)
    updated = event("customer.updated", obj=CUSTOMER)
    subject.remember(updated)
    assert subject.enrich(updated) == {}  # the event's own object is the customer
    assert store.cached_object("stripe", "cus_1") == (CUSTOMER, clock.now)
    assert subject.enrich(event()) == {"customer": CUSTOMER}
    assert len(responses.calls) == 0


def test_enricher_remember_ignores_deleted_customers_and_other_objects(store: Store, clock: Clock) -> None:
    subject = enricher(store, clock, api_key=None)
    subject.remember(event("customer.deleted", obj={**CUSTOMER, "deleted": True}))
    subject.remember(event("customer.subscription.updated"))
    assert store.cached_object("stripe", "cus_1") is None
    assert store.cached_object("stripe", "sub_1") is None


@responses.activate
def test_enricher_without_api_key_uses_only_the_cache(store: Store, clock: Clock) -> None:
    subject = enricher(store, clock, api_key=None)
    assert subject.enrich(event()) == {}
    store.cache_object("stripe", "cus_1", CUSTOMER, clock.now - 10 * CACHE_SECONDS)  # stale, but all there is
    assert subject.enrich(event()) == {"customer": CUSTOMER}
    assert len(responses.calls) == 0


@responses.activate
def test_enricher_cache_only_read_serves_a_stale_customer_without_a_request(store: Store, clock: Clock) -> None:
    subject = enricher(store, clock)
    assert subject.enrich(event(), fetch=False) == {}
    store.cache_object("stripe", "cus_1", CUSTOMER, clock.now - 10 * CACHE_SECONDS)
    assert subject.enrich(event(), fetch=False) == {"customer": CUSTOMER}
    assert len(responses.calls) == 0


@responses.activate
def test_enricher_event_without_customer_needs_nothing(store: Store, clock: Clock) -> None:
    assert enricher(store, clock).enrich(event("charge.succeeded", obj={"id": "ch_1"}, customer=None)) == {}
    assert len(responses.calls) == 0


@responses.activate
def test_enricher_missing_customer_is_deleted_not_an_error(store: Store, clock: Clock) -> None:
    responses.get(CUSTOMER_URL, status=404, json={"error": {
        "type": "invalid_request_error", "code": "resource_missing", "param": "id",
        "message": "No such customer: 'cus_1'"}})
    subject = enricher(store, clock)
    assert subject.enrich(event()) == {"customer": {"id": "cus_1", "deleted": True}}
    assert subject.enrich(event()) == {"customer": {"id": "cus_1", "deleted": True}}  # cached too
    assert len(responses.calls) == 1


@responses.activate
def test_enricher_server_error_is_enrichment_unavailable(store: Store, clock: Clock,
                                                         stripe_sleeps: list[float]) -> None:
    responses.get(CUSTOMER_URL, status=500, json={"error": {"type": "api_error", "message": "boom"}})
    with pytest.raises(EnrichmentUnavailable, match="APIError"):
        enricher(store, clock).enrich(event())
    assert len(responses.calls) == 3  # the official client's own two retries, then ours: none
    assert len(stripe_sleeps) == 2
    assert store.cached_object("stripe", "cus_1") is None


@responses.activate
def test_enricher_connection_failure_is_enrichment_unavailable(store: Store, clock: Clock,
                                                               stripe_sleeps: list[float]) -> None:
    responses.get(CUSTOMER_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(EnrichmentUnavailable, match="APIConnectionError") as raised:
        enricher(store, clock).enrich(event())
    assert API_KEY not in str(raised.value)
    assert raised.value.__suppress_context__  # the client's exception carries request details: not chained
    assert len(responses.calls) == 3
    assert len(stripe_sleeps) == 2
    assert store.cached_object("stripe", "cus_1") is None


class FakeTime:
    """A clock that only moves when the budget sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_rate_budget_spaces_immediate_takes_at_the_rate() -> None:
    fake = FakeTime()
    budget = RateBudget(5.0, clock=fake.clock, sleep=fake.sleep)
    for _ in range(10):
        budget.take()
    assert len(fake.sleeps) == 9
    assert sum(fake.sleeps) == pytest.approx(1.8)
    assert fake.sleeps == pytest.approx([0.2] * 9)


def test_rate_budget_concurrent_takes_queue_behind_each_other() -> None:
    sleeps: list[float] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            sleeps.append(seconds)

    budget = RateBudget(5.0, clock=lambda: 100.0, sleep=sleep)  # all ten arrive at the same instant
    threads = [threading.Thread(target=budget.take) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sleeps) == pytest.approx([0.2 * n for n in range(1, 10)])  # the last waits 1.8 s


def test_rate_budget_idle_time_refills_only_up_to_the_burst() -> None:
    fake = FakeTime()
    budget = RateBudget(5.0, burst=2.0, clock=fake.clock, sleep=fake.sleep)
    fake.now += 3600
    for _ in range(3):
        budget.take()
    assert fake.sleeps == pytest.approx([0.2])


# Disputes: the charge names the customer.

def dispute_event() -> Event:
    return event("charge.dispute.created", obj=dict(DISPUTE), customer=None)


@responses.activate
def test_enricher_dispute_fetches_its_charge_once_then_the_customer(store: Store, clock: Clock) -> None:
    responses.get(CHARGE_URL, json=CHARGE)
    responses.get(CUSTOMER_URL, json=CUSTOMER)
    subject = enricher(store, clock)
    first = subject.enrich(dispute_event())
    clock.now += 60
    second = subject.enrich(dispute_event())
    charge = {"id": "ch_1", "object": "charge", "customer": "cus_1"}  # billing details are not kept
    assert first == second == {"charge": charge, "customer": CUSTOMER}
    assert [call.request.url for call in responses.calls] == [CHARGE_URL, CUSTOMER_URL]
    assert store.cached_object("stripe", "ch_1") == (charge, 1_700_000_000.0)


@responses.activate
def test_enricher_dispute_charge_look_up_shares_the_budget(store: Store, clock: Clock) -> None:
    responses.get(CHARGE_URL, json=CHARGE)
    responses.get(CUSTOMER_URL, json=CUSTOMER)
    taken: list[float] = []
    budget = RateBudget(0.5, clock=clock, sleep=taken.append)  # one request every two seconds
    Enricher(store, stripe_client(API_KEY, API_BASE), budget, clock).enrich(dispute_event())
    assert taken == pytest.approx([2.0])  # the charge took the burst, the customer waited


@responses.activate
def test_enricher_dispute_charge_outage_is_enrichment_unavailable(store: Store, clock: Clock,
                                                                  stripe_sleeps: list[float]) -> None:
    responses.get(CHARGE_URL, status=500, json={"error": {"type": "api_error", "message": "boom"}})
    with pytest.raises(EnrichmentUnavailable, match="charge: APIError"):
        enricher(store, clock).enrich(dispute_event())
    assert store.cached_object("stripe", "ch_1") is None


@responses.activate
def test_enricher_dispute_without_api_key_uses_only_the_cache(store: Store, clock: Clock) -> None:
    subject = enricher(store, clock, api_key=None)
    assert subject.enrich(dispute_event()) == {}
    store.cache_object("stripe", "ch_1", {"id": "ch_1", "object": "charge", "customer": "cus_1"}, clock.now)
    store.cache_object("stripe", "cus_1", CUSTOMER, clock.now)
    assert subject.enrich(dispute_event())["customer"] == CUSTOMER
    assert len(responses.calls) == 0


@responses.activate
def test_dispute_opened_takes_the_account_from_the_charges_customer(store: Store, clock: Clock) -> None:
    responses.get(CHARGE_URL, json=CHARGE)
    responses.get(CUSTOMER_URL, json={**CUSTOMER, "metadata": {"pendo_account_id": "acme",
                                                               "pendo_visitor_id": "user-42"}})
    dispute = dispute_event()
    outcome = evaluate(MAPPINGS, dispute, enricher(store, clock).enrich(dispute), OPTIONS)
    [track] = [op for op in outcome.operations if isinstance(op, TrackEvent)]
    assert (track.event, track.account_id, track.visitor_id) == ("Dispute Opened", "acme", "user-42")
    assert track.properties == {"amount": 50.0, "currency": "USD", "reason": "fraudulent", "charge_id": "ch_1"}


def test_dispute_opened_without_the_customer_is_unresolved(store: Store, clock: Clock) -> None:
    dispute = dispute_event()
    outcome = evaluate(MAPPINGS, dispute, enricher(store, clock, api_key=None).enrich(dispute), OPTIONS)
    assert outcome.matched == ["dispute-opened"] and outcome.unresolved == ["dispute-opened"]
    assert outcome.operations == []


def mapper(store: Store, clock: Clock, sqlite_url: str, api_key: str | None = API_KEY) -> Mapper:
    settings = make_settings(sqlite_url, pendo_track_secret="track")
    return Mapper(settings, store, MAPPINGS, enricher(store, clock, api_key), "w1", clock)


def map_event(subject: Mapper, stored: Event) -> dict[str, Any]:
    subject.store.ingest(stored, now=subject.clock())
    assert subject.run_batch() >= 1
    with subject.store.engine.connect() as connection:
        return dict(connection.execute(select(events).where(events.c.event_id == stored.id)).mappings().one())


def track_payloads(store: Store) -> list[dict[str, Any]]:
    with store.engine.connect() as connection:
        return [json.loads(row) for row in connection.execute(select(track_events.c.payload)).scalars()]


@responses.activate
def test_mapper_dispute_resolves_through_the_customer_link(store: Store, clock: Clock, sqlite_url: str) -> None:
    responses.get(CHARGE_URL, json=CHARGE)
    responses.get(CUSTOMER_URL, json={**CUSTOMER, "metadata": {"pendo_visitor_id": "user-42"}})
    with store.transaction() as connection:
        links.save(connection, "stripe", "cus_1", "acme-linked", "import", clock.now)
    row = map_event(mapper(store, clock, sqlite_url), dispute_event())
    assert (row["status"], row["customer_id"]) == (st.MAPPED, "cus_1")
    [payload] = track_payloads(store)
    assert (payload["event"], payload["accountId"], payload["visitorId"]) == ("Dispute Opened", "acme-linked",
                                                                              "user-42")


@responses.activate
def test_mapper_dispute_of_a_customer_without_ids_waits_for_customer_updated(store: Store, clock: Clock,
                                                                             sqlite_url: str) -> None:
    responses.get(CHARGE_URL, json=CHARGE)
    responses.get(CUSTOMER_URL, json={**CUSTOMER, "metadata": {}})
    subject = mapper(store, clock, sqlite_url)
    row = map_event(subject, dispute_event())
    assert (row["status"], row["customer_id"]) == (st.UNRESOLVED, "cus_1")  # the charge's customer, kept

    updated = {**CUSTOMER, "metadata": {"pendo_account_id": "acme", "pendo_visitor_id": "user-42"}}
    body = {"id": "evt_2", "object": "event", "type": "customer.updated", "created": 1_700_000_100,
            "api_version": "2024-06-20", "data": {"object": updated}}
    map_event(subject, Event(provider="stripe", id="evt_2", type="customer.updated", created=1_700_000_100.0,
                             livemode=True, api_version="2024-06-20", connect_account=None, customer_id="cus_1",
                             payload=body))
    assert subject.run_batch() == 1  # the dispute, requeued and mapped from the cache
    [payload] = track_payloads(store)
    assert (payload["event"], payload["accountId"], payload["visitorId"]) == ("Dispute Opened", "acme", "user-42")
    assert len(responses.calls) == 2  # charge and customer, once each


def test_mapper_dispute_without_api_key_is_unresolved(store: Store, clock: Clock, sqlite_url: str) -> None:
    row = map_event(mapper(store, clock, sqlite_url, api_key=None), dispute_event())
    assert (row["status"], row["customer_id"]) == (st.UNRESOLVED, None)
    assert json.loads(row["detail"])["unresolved"] == ["dispute-opened"]
    assert track_payloads(store) == []


# Tiered prices: their tiers come from the price look-up.

def tiered_subscription(mode: str = "volume") -> dict[str, Any]:
    price = {"id": "price_tiered", "object": "price", "billing_scheme": "tiered", "tiers_mode": mode,
             "unit_amount": None, "unit_amount_decimal": None, "currency": "usd", "lookup_key": "seats",
             "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"}}
    return {"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active", "currency": "usd",
            "discounts": [], "items": {"object": "list", "data": [
                {"id": "si_1", "object": "subscription_item", "quantity": 12, "price": price}]}}


def tiered_price(mode: str = "volume") -> dict[str, Any]:
    return {**tiered_subscription(mode)["items"]["data"][0]["price"], "tiers": TIERS}


def price_response(mode: str = "volume") -> None:
    responses.get(PRICE_URL, json=tiered_price(mode), match=[matchers.query_param_matcher({"expand[0]": "tiers"})])


def account_values(outcome: Any) -> dict[str, Any]:
    [update] = [op for op in outcome.operations if isinstance(op, MetadataUpdate) and op.kind == "account"]
    return dict(update.values)


@responses.activate
def test_enricher_fetches_a_tiered_price_once_then_serves_the_cache(store: Store, clock: Clock) -> None:
    store.cache_object("stripe", "cus_1", CUSTOMER, clock.now)
    price_response()
    subject = enricher(store, clock)
    updated = event(obj=tiered_subscription())
    first = subject.enrich(updated)
    clock.now += 10 * CACHE_SECONDS  # a price never changes: cached for good
    store.cache_object("stripe", "cus_1", CUSTOMER, clock.now)  # (the customer would be refetched by now)
    second = subject.enrich(updated)
    assert first == second == {"customer": CUSTOMER, "prices": {"price_tiered": tiered_price()}}
    assert len(responses.calls) == 1
    assert store.cached_object("stripe", "price_tiered") == (tiered_price(), 1_700_000_000.0)


@pytest.mark.parametrize(("mode", "mrr"), [("volume", 96.0), ("graduated", 116.0)])  # 12 * 8; 10 * 10 + 2 * 8
@responses.activate
def test_tiered_mrr_comes_from_the_looked_up_tiers(store: Store, clock: Clock, mode: str, mrr: float) -> None:
    store.cache_object("stripe", "cus_1", CUSTOMER, clock.now)
    price_response(mode)
    updated = event(obj=tiered_subscription(mode))
    outcome = evaluate(MAPPINGS, updated, enricher(store, clock).enrich(updated), OPTIONS)
    assert account_values(outcome)["mrr"] == mrr
    assert outcome.warnings == []


@responses.activate
def test_tiered_mrr_is_not_sent_without_an_api_key(store: Store, clock: Clock) -> None:
    store.cache_object("stripe", "cus_1", CUSTOMER, clock.now)
    updated = event(obj=tiered_subscription())
    enrichment = enricher(store, clock, api_key=None).enrich(updated)
    assert enrichment == {"customer": CUSTOMER}
    outcome = evaluate(MAPPINGS, updated, enrichment, OPTIONS)
    values = account_values(outcome)
    assert "mrr" not in values and values["billing_status"] == "active"
    assert outcome.warnings == [
        "mrr not sent: price price_tiered is tiered: its tiers need the price look-up (STRIPE_API_KEY)"]
    assert len(responses.calls) == 0


@responses.activate
def test_enricher_caches_a_price_with_decimal_amounts_as_stripe_sends_it(store: Store, clock: Clock) -> None:
    # Stripe always sends `*_decimal` strings; stripe >= 15 reads them as decimal.Decimal, which JSON cannot hold.
    tiers = [{**tier, "unit_amount_decimal": str(tier["unit_amount"]), "flat_amount_decimal": None} for tier in TIERS]
    answer = {**tiered_price("graduated"), "unit_amount_decimal": None, "tiers": tiers,
              "currency_options": {"eur": {"unit_amount_decimal": "950.5", "tax_behavior": "exclusive"}}}
    responses.get(PRICE_URL, json=answer, match=[matchers.query_param_matcher({"expand[0]": "tiers"})])
    store.cache_object("stripe", "cus_1", CUSTOMER, clock.now)
    updated = event(obj=tiered_subscription("graduated"))
    enrichment = enricher(store, clock).enrich(updated)
    assert enrichment["prices"]["price_tiered"] == answer
    assert store.cached_object("stripe", "price_tiered") == (answer, 1_700_000_000.0)
    assert account_values(evaluate(MAPPINGS, updated, enrichment, OPTIONS))["mrr"] == 116.0


# Amount-off coupons in another currency: their amount in the subscription's comes from `currency_options`.
COUPON_URL = f"{API_BASE}/v1/coupons/co_usd12"
USD_COUPON = {"id": "co_usd12", "object": "coupon", "amount_off": 1200, "currency": "usd", "duration": "forever",
              "percent_off": None}
EXPANDED_COUPON = {**USD_COUPON, "currency_options": {"eur": {"amount_off": 900}}}


def eur_subscription() -> dict[str, Any]:
    price = {"id": "price_eur", "object": "price", "billing_scheme": "per_unit", "unit_amount": 10000,
             "currency": "eur", "lookup_key": "pro_eur",
             "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"}}
    return {"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active", "currency": "eur",
            "metadata": {"pendo_account_id": "acme"},
            "discount": {"id": "di_1", "object": "discount", "coupon": USD_COUPON}, "discounts": [],
            "items": {"object": "list", "data": [
                {"id": "si_1", "object": "subscription_item", "quantity": 1, "price": price}]}}


@responses.activate
def test_a_coupon_in_another_currency_is_looked_up_with_its_currency_options(store: Store, clock: Clock) -> None:
    """A USD $12 forever coupon on an EUR €100 subscription, worth €9 by its currency_options: 91 a month
    (docs.stripe.com/api/coupons/object#coupon_object-currency_options)."""
    store.cache_object("stripe", "cus_1", CUSTOMER, clock.now)
    responses.get(COUPON_URL, json=EXPANDED_COUPON,
                  match=[matchers.query_param_matcher({"expand[0]": "currency_options"})])
    updated = event(obj=eur_subscription())
    enrichment = enricher(store, clock).enrich(updated)
    assert enrichment["coupons"] == {"co_usd12": EXPANDED_COUPON}
    outcome = evaluate(MAPPINGS, updated, enrichment, OPTIONS)
    assert account_values(outcome)["mrr"] == 91.0 and outcome.warnings == []
    assert enricher(store, clock).enrich(updated)["coupons"] == {"co_usd12": EXPANDED_COUPON}  # from the cache
    assert len(responses.calls) == 1


@responses.activate
def test_a_coupon_in_another_currency_withholds_mrr_without_an_api_key(store: Store, clock: Clock) -> None:
    store.cache_object("stripe", "cus_1", CUSTOMER, clock.now)
    updated = event(obj=eur_subscription())
    enrichment = enricher(store, clock, api_key=None).enrich(updated)
    outcome = evaluate(MAPPINGS, updated, enrichment, OPTIONS)
    assert "mrr" not in account_values(outcome)
    assert outcome.warnings == ["mrr not sent: coupon co_usd12 is in another currency than EUR: its amount in EUR "
                                "needs its currency_options (STRIPE_API_KEY)"]
    assert len(responses.calls) == 0


# A price with neither nickname nor lookup key: the plan name is its product's, looked up.
PRODUCT_URL = f"{API_BASE}/v1/products/prod_team"


def unnamed_subscription() -> dict[str, Any]:
    price = {"id": "price_1PzUnnamed", "object": "price", "billing_scheme": "per_unit", "unit_amount": 5000,
             "currency": "usd", "lookup_key": None, "nickname": None, "product": "prod_team",
             "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"}}
    return {"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active", "currency": "usd",
            "metadata": {"pendo_account_id": "acme"}, "discounts": [],
            "items": {"object": "list", "data": [
                {"id": "si_1", "object": "subscription_item", "quantity": 1, "price": price}]}}


@responses.activate
def test_the_plan_name_of_an_unnamed_price_is_its_products_looked_up(store: Store, clock: Clock) -> None:
    """docs.stripe.com/api/prices/object#price_object-product: a price names its product by id; the product's
    `name` is what customers see."""
    store.cache_object("stripe", "cus_1", CUSTOMER, clock.now)
    responses.get(PRODUCT_URL, json={"id": "prod_team", "object": "product", "name": "Team", "description": "x"})
    updated = event(obj=unnamed_subscription())
    enrichment = enricher(store, clock).enrich(updated)
    assert enrichment["products"] == {"prod_team": {"id": "prod_team", "object": "product", "name": "Team"}}
    outcome = evaluate(MAPPINGS, updated, enrichment, OPTIONS)
    assert account_values(outcome)["billing_plan"] == "Team" and outcome.warnings == []
    enricher(store, clock).enrich(updated)  # within a day: from the cache
    assert len(responses.calls) == 1


def test_without_an_api_key_an_unnamed_price_is_named_by_its_id_with_a_warning(store: Store, clock: Clock) -> None:
    store.cache_object("stripe", "cus_1", CUSTOMER, clock.now)
    updated = event(obj=unnamed_subscription())
    outcome = evaluate(MAPPINGS, updated, enricher(store, clock, api_key=None).enrich(updated), OPTIONS)
    assert account_values(outcome)["billing_plan"] == "price_1PzUnnamed"
    assert outcome.warnings == ["plan name is an id: price price_1PzUnnamed has no nickname or lookup key: its "
                                "product's name needs the product look-up (STRIPE_API_KEY)"]
