"""Enrichment: the official Stripe client against a mocked API, a real SQLite cache, an injected clock."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests
import responses

from bridge.db import make_engine, migrate
from bridge.enrichment import CACHE_SECONDS, Enricher, EnrichmentUnavailable, RateBudget, stripe_client
from bridge.providers import Event
from bridge.store import Store
from tests.conftest import make_settings

API_BASE = "http://stripe.test"
API_KEY = "sk_test_enrichment"
CUSTOMER_URL = f"{API_BASE}/v1/customers/cus_1"
CUSTOMER = {"id": "cus_1", "object": "customer", "email": "ops@acme.example",
            "metadata": {"pendo_account_id": "acme"}}


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
    body = {"id": "evt_1", "object": "event", "type": event_type, "created": 1_700_000_000, "data": {"object": obj}}
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
    assert store.cached_object("cus_1") == (CUSTOMER, 1_700_000_000.0)


@responses.activate
def test_enricher_refetches_a_customer_cached_for_longer_than_a_day(store: Store, clock: Clock) -> None:
    store.cache_object("cus_1", {"id": "cus_1", "metadata": {}}, clock.now)
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
    store.cache_object("cus_1", {"id": "cus_1", "object": "customer", "metadata": {}}, clock.now - 60)
    subject = enricher(store, clock)
    updated = event("customer.updated", obj=CUSTOMER)
    subject.remember(updated)
    assert subject.enrich(updated) == {}  # the event's own object is the customer
    assert store.cached_object("cus_1") == (CUSTOMER, clock.now)
    assert subject.enrich(event()) == {"customer": CUSTOMER}
    assert len(responses.calls) == 0


def test_enricher_remember_ignores_deleted_customers_and_other_objects(store: Store, clock: Clock) -> None:
    subject = enricher(store, clock, api_key=None)
    subject.remember(event("customer.deleted", obj={**CUSTOMER, "deleted": True}))
    subject.remember(event("customer.subscription.updated"))
    assert store.cached_object("cus_1") is None
    assert store.cached_object("sub_1") is None


@responses.activate
def test_enricher_without_api_key_uses_only_the_cache(store: Store, clock: Clock) -> None:
    subject = enricher(store, clock, api_key=None)
    assert subject.enrich(event()) == {}
    store.cache_object("cus_1", CUSTOMER, clock.now - 10 * CACHE_SECONDS)  # stale, but all there is
    assert subject.enrich(event()) == {"customer": CUSTOMER}
    assert len(responses.calls) == 0


@responses.activate
def test_enricher_cache_only_read_serves_a_stale_customer_without_a_request(store: Store, clock: Clock) -> None:
    subject = enricher(store, clock)
    assert subject.enrich(event(), fetch=False) == {}
    store.cache_object("cus_1", CUSTOMER, clock.now - 10 * CACHE_SECONDS)
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
    assert store.cached_object("cus_1") is None


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
    assert store.cached_object("cus_1") is None


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
