"""`bridge sync` and `bridge catchup` with `--source eu`: its events are stored and cached under its key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses
from sqlalchemy import select

from bridge.mapping import load_mappings
from bridge.providers import Event
from bridge.providers.stripe.api import StripeApi
from bridge.providers.stripe.catchup import StripeEventLog
from bridge.providers.stripe.enrichment import RateBudget, stripe_client
from bridge.providers.stripe.listing import StripeSource
from bridge.store.db import make_engine, migrate
from bridge.store.schema import events, provider_objects
from bridge.store.store import Store
from bridge.sync.catchup import Catchup, iso
from bridge.sync.initial import Sync, last_run_control
from tests.conftest import make_settings, stripe_config
from tests.sync.test_catchup import NOW, window
from tests.sync.test_initial import API_BASE, Clock, MockedStripe


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[responses.RequestsMock]:
    monkeypatch.setattr("time.sleep", lambda _: None)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_a_sources_sync_keys_its_snapshots_and_cache_by_the_source(sqlite_url: str,
                                                                   mocked: responses.RequestsMock) -> None:
    config = stripe_config(api_key="sk_test_sync", api_base=API_BASE)
    settings = make_settings(sqlite_url, providers={"stripe": config, "stripe/eu": config})
    migrate(settings)
    store = Store(make_engine(settings))
    fake = MockedStripe(mocked, 3)
    try:
        clock = Clock()
        api = StripeApi(stripe_client("sk_test_sync", API_BASE), RateBudget(1e6), clock, lambda _: None)
        report = Sync(settings, store, "stripe/eu", StripeSource(api), load_mappings(settings.mappings_dir),
                      clock).run()
    finally:
        fake.close()
    assert report.queued == 3
    with store.engine.connect() as connection:
        assert set(connection.execute(select(events.c.provider)).scalars()) == {"stripe/eu"}
        assert set(connection.execute(select(provider_objects.c.provider)).scalars()) == {"stripe/eu"}
    assert store.control(last_run_control("stripe/eu")) is not None
    assert store.control(last_run_control("stripe")) is None


def test_a_sources_catchup_stores_its_events_under_the_source(sqlite_url: str,
                                                              mocked: responses.RequestsMock) -> None:
    config = stripe_config(api_key="sk_test_sync", api_base=API_BASE)
    settings = make_settings(sqlite_url, providers={"stripe": config, "stripe/eu": config})
    migrate(settings)
    store = Store(make_engine(settings))
    store.ingest(Event("stripe", "evt_0", "customer.subscription.updated", 1.0, True, None, None, "cus_1", {}), 1.0)
    fake = MockedStripe(mocked, 0, window())
    try:
        clock = Clock(NOW)
        api = StripeApi(stripe_client("sk_test_sync", API_BASE), RateBudget(1e6), clock, lambda _: None)
        report = Catchup(settings, store, "stripe/eu", StripeEventLog(api), load_mappings(settings.mappings_dir),
                         clock).run(iso(NOW - 3600))
    finally:
        fake.close()
    assert (report.new, report.duplicates) == (5, 0)  # the default source's evt_0 is another account's
    with store.engine.connect() as connection:
        stored = connection.execute(select(events.c.provider, events.c.event_id).order_by(events.c.id)).all()
    assert stored[0] == ("stripe", "evt_0") and {provider for provider, _ in stored[1:]} == {"stripe/eu"}
