"""`bridge sync stripe`: the official client against Stripe answers mocked with `responses`, real SQLite."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from sqlalchemy import select, update

from bridge.mapping import load_mappings
from bridge.pendo import outbox
from bridge.providers.stripe.api import StripeApi, StripeApiError
from bridge.providers.stripe.enrichment import Enricher, RateBudget, stripe_client
from bridge.providers.stripe.listing import StripeSource
from bridge.settings import Settings
from bridge.store.db import make_engine, migrate
from bridge.store.schema import controls, events, field_values, provider_objects, track_events
from bridge.store.store import Store
from bridge.sync.initial import Sync, cursor_control, describe_changes
from bridge.worker.mapper import Mapper
from tests.conftest import make_settings, stripe_config
from tests.fakes.stripe import FakeStripe

API_BASE = "http://stripe.test"
CURSOR = cursor_control("stripe")


class Clock:
    def __init__(self, now: float = 1_767_300_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class MockedStripe:
    """Stripe's answers through `responses`, computed by the fake's pure `answer`; every query recorded."""

    def __init__(self, mocked: responses.RequestsMock, count: int, events: list[dict[str, Any]] | None = None):
        self.fake = FakeStripe(count, events)
        self.queries: list[tuple[str, dict[str, list[str]]]] = []
        mocked.add_callback(responses.GET, re.compile(re.escape(API_BASE) + r"/v1/.*"), callback=self._answer)

    def _answer(self, request: Any) -> tuple[int, dict[str, str], str]:
        parts = urlsplit(request.url)
        query = parse_qs(parts.query)
        self.queries.append((parts.path, query))
        status, body = self.fake.answer(parts.path, query)
        return status, {"Content-Type": "application/json"}, json.dumps(body)

    def close(self) -> None:
        self.fake.__exit__(None, None, None)


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    settings = make_settings(sqlite_url, pendo_track_secret="track-secret", providers={
        "stripe": stripe_config(api_key="sk_test_sync", api_base=API_BASE)})
    migrate(settings)
    return settings


@pytest.fixture
def store(settings: Settings) -> Store:
    return Store(make_engine(settings))


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[responses.RequestsMock]:
    monkeypatch.setattr("time.sleep", lambda _: None)  # the official client's own retry pauses
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def stripe_mock(mocked: responses.RequestsMock, count: int) -> Iterator[MockedStripe]:
    stripe = MockedStripe(mocked, count)
    yield stripe
    stripe.close()


@pytest.fixture
def stripe250(mocked: responses.RequestsMock) -> Iterator[MockedStripe]:
    yield from stripe_mock(mocked, 250)


def make_sync(settings: Settings, store: Store, clock: Clock, slept: list[float] | None = None) -> Sync:
    api = StripeApi(stripe_client("sk_test_sync", API_BASE), RateBudget(1e6), clock,
                    (slept if slept is not None else []).append)
    return Sync(settings, store, "stripe", StripeSource(api), load_mappings(settings.mappings_dir), clock)


def rows(store: Store, table: Any) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(table)).mappings())


def test_sync_pages_with_starting_after_and_stores_one_event_per_subscription(
        settings: Settings, store: Store, stripe250: MockedStripe) -> None:
    report = make_sync(settings, store, Clock()).run()
    assert [q.get("starting_after") for _, q in stripe250.queries] == [None, ["sub_0000099"], ["sub_0000199"]]
    first = stripe250.queries[0][1]
    assert first["limit"] == ["100"] and first["status"] == ["all"] and first["expand[0]"] == ["data.customer"]
    stored = rows(store, events)
    assert len(stored) == 250 and {row["status"] for row in stored} == {"received"}
    payload = json.loads(stored[0]["payload"])
    assert payload["id"] == f"sync_{report.run_id}_sub_0000000" and payload["bridge_sync"] is True
    assert payload["type"] == "customer.subscription.updated" and payload["created"] == 1_767_300_000
    assert payload["data"]["object"]["customer"] == "cus_0000000"  # collapsed to the id, as webhooks carry it
    assert len(rows(store, provider_objects)) == 250  # the expanded customers, cached for identity
    assert report.summary()["subscriptions"] == 250 and report.summary()["accounts"] == 250
    assert report.queued == 250 and store.control(CURSOR) is None


def test_sync_waits_out_rate_limit_answers(settings: Settings, store: Store, stripe250: MockedStripe) -> None:
    stripe250.fake.fail_next(429, 2)
    slept: list[float] = []
    report = make_sync(settings, store, Clock(), slept).run()
    assert report.queued == 250 and slept == [1.0, 2.0]
    assert report.requests == 5  # 3 pages, 2 of them asked again


def test_sync_gives_up_on_a_persistent_rate_limit(settings: Settings, store: Store,
                                                   stripe250: MockedStripe) -> None:
    stripe250.fake.fail_next(429, 10)
    with pytest.raises(StripeApiError, match="429"):
        make_sync(settings, store, Clock()).run()


def test_sync_resumes_an_interrupted_run_from_its_cursor(settings: Settings, store: Store,
                                                         stripe250: MockedStripe) -> None:
    sync = make_sync(settings, store, Clock())
    api = sync.source.api  # type: ignore[attr-defined]
    pages = api.pages  # interrupt after two stored pages: the third page keeps failing

    def failing_after_two(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for number, page in enumerate(pages(*args, **kwargs)):
            yield page
            if number == 1:
                stripe250.fake.fail_next(500, 3)  # beyond the client's own two retries
    api.pages = failing_after_two
    with pytest.raises(StripeApiError):
        sync.run()
    assert len(rows(store, events)) == 200 and json.loads(store.control(CURSOR) or "")["after"] == "sub_0000199"
    answered = len(stripe250.queries)
    report = make_sync(settings, store, Clock()).run()
    resumed = [q.get("starting_after") for _, q in stripe250.queries[answered:]]
    assert resumed == [["sub_0000199"]]  # no page fetched twice
    assert report.resumed_after == "sub_0000199" and report.queued == 50
    ids = [row["event_id"] for row in rows(store, events)]
    assert len(ids) == len(set(ids)) == 250 and len({i.rsplit("_", 2)[0] for i in ids}) == 1  # one run id
    assert store.control(CURSOR) is None


def test_sync_restart_ignores_the_cursor(settings: Settings, store: Store, stripe250: MockedStripe) -> None:
    store.set_control(CURSOR, json.dumps({"run_id": "old", "after": "sub_0000199"}), 0)
    report = make_sync(settings, store, Clock()).run(restart=True)
    assert report.resumed_after is None and report.queued == 250


def test_sync_dry_run_stores_nothing_and_lists_changes(settings: Settings, store: Store,
                                                       stripe250: MockedStripe) -> None:
    report = make_sync(settings, store, Clock()).run(dry_run=True)
    assert rows(store, events) == [] and rows(store, provider_objects) == [] and rows(store, controls) == []
    assert len(report.accounts) == 250 and report.changes[("account", "acct-1", "billing_status")] == (None, "active")
    assert "account acct-1: mrr: (not set) -> 98.0" in list(describe_changes(report.changes))


def map_all(settings: Settings, store: Store, clock: Clock) -> None:
    mapper = Mapper(settings, store, load_mappings(settings.mappings_dir),
                    Enricher(store, None, RateBudget(1e6), clock), "w1", clock)
    while mapper.run_batch(500):
        pass


def test_sync_again_sends_nothing_new(settings: Settings, store: Store, mocked: responses.RequestsMock) -> None:
    for _ in stripe_mock(mocked, 30):
        clock = Clock()
        make_sync(settings, store, clock).run()
        map_all(settings, store, clock)
        assert {row["status"] for row in rows(store, events)} == {"mapped"}  # identity from the cache
        assert rows(store, track_events) == []  # metadata only
        with store.engine.begin() as connection:  # as if the worker had delivered everything
            connection.execute(update(field_values).values(state=outbox.DELIVERED, sent_version=1))
        clock.now += 3600
        again = make_sync(settings, store, clock).run(compare=True)
        assert again.changes == {}
        map_all(settings, store, clock)
        states = {row["state"] for row in rows(store, field_values)}
        assert states == {outbox.DELIVERED}  # nothing pending: nothing goes to Pendo


def test_sync_reconcile_reports_what_it_corrects(settings: Settings, store: Store,
                                                 mocked: responses.RequestsMock) -> None:
    for stripe in stripe_mock(mocked, 5):
        clock = Clock()
        make_sync(settings, store, clock).run()
        map_all(settings, store, clock)
        stripe.fake.overrides[2] = {**stripe.fake.make(2), "status": "past_due"}  # a missed webhook
        clock.now += 3600
        report = make_sync(settings, store, clock).run(compare=True)
        assert report.changes == {("account", "acct-2", "billing_status"): ("active", "past_due")}
        map_all(settings, store, clock)
        with store.engine.connect() as connection:
            value = connection.execute(select(field_values.c.value).where(
                field_values.c.entity_id == "acct-2", field_values.c.field == "billing_status")).scalar()
        assert value == '"past_due"'


def test_sync_keeps_other_mode_subscriptions_out(settings: Settings, store: Store,
                                                 mocked: responses.RequestsMock) -> None:
    for stripe in stripe_mock(mocked, 3):
        stripe.fake.overrides[1] = {**stripe.fake.make(1), "livemode": False}
        report = make_sync(settings, store, Clock()).run()
        assert report.queued == 2 and report.ignored == 1


def test_sync_asks_for_the_newest_known_api_version_and_its_snapshots_map(
        settings: Settings, store: Store, mocked: responses.RequestsMock) -> None:
    for _ in stripe_mock(mocked, 3):
        clock = Clock()
        make_sync(settings, store, clock).run()
        assert {call.request.headers["Stripe-Version"] for call in mocked.calls} == {"2026-11-18.endive"}
        assert {row["api_version"] for row in rows(store, events)} == {"2026-11-18.endive"}
        map_all(settings, store, clock)
        assert {row["status"] for row in rows(store, events)} == {"mapped"}
