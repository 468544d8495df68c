"""`bridge catchup stripe`: Stripe's Events API mocked with `responses`, stored through the ingest path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from sqlalchemy import select

from bridge.mapping import load_mappings
from bridge.providers.stripe.api import StripeApi
from bridge.providers.stripe.catchup import RETENTION_SECONDS, StripeEventLog, event_types
from bridge.providers.stripe.enrichment import RateBudget, stripe_client
from bridge.providers.stripe.webhook import StripeProvider
from bridge.settings import Settings
from bridge.store.schema import events
from bridge.store.store import Store
from bridge.sync.catchup import Catchup, iso
from tests.e2e.harness import stripe_event
from tests.e2e.payloads import invoice, subscription
from tests.sync.test_initial import API_BASE, Clock, MockedStripe, map_all, mocked, settings, store  # noqa: F401 (fixtures)

NOW = 1_767_300_000


def window() -> list[dict[str, Any]]:
    """Five events of the last hour, the middle one of the other Stripe mode."""
    made = [stripe_event("customer.subscription.updated", subscription(sub_id=f"sub_{n}"), created=NOW - 3000 + n,
                         event_id=f"evt_{n}") for n in range(4)]
    made.append(stripe_event("invoice.paid", invoice(), created=NOW - 100, event_id="evt_test", livemode=False))
    made[1]["_failed"] = True
    return made


@pytest.fixture
def stripe_events(mocked: responses.RequestsMock) -> Iterator[MockedStripe]:  # noqa: F811
    stripe = MockedStripe(mocked, 0, window())
    yield stripe
    stripe.close()


def make_catchup(settings: Settings, store: Store) -> Catchup:  # noqa: F811
    clock = Clock(NOW)
    api = StripeApi(stripe_client("sk_test_sync", API_BASE), RateBudget(1e6), clock, lambda _: None)
    return Catchup(settings, store, "stripe", StripeEventLog(api), load_mappings(settings.mappings_dir), clock)


def stored_ids(store: Store) -> list[str]:  # noqa: F811
    with store.engine.connect() as connection:
        return list(connection.execute(select(events.c.event_id).order_by(events.c.id)).scalars())


def test_catchup_stores_only_what_is_new_oldest_first(settings: Settings, store: Store,  # noqa: F811
                                                      stripe_events: MockedStripe) -> None:
    provider = StripeProvider(())
    for event in window()[:2]:  # already received as webhooks
        store.ingest(provider.parse(json.dumps({k: v for k, v in event.items() if k != "_failed"}).encode()), NOW)
    report = make_catchup(settings, store).run(iso(NOW - 3600))
    assert (report.fetched, report.new, report.duplicates, report.ignored) == (5, 3, 2, 1)
    assert stored_ids(store) == ["evt_0", "evt_1", "evt_2", "evt_3", "evt_test"]  # oldest first
    path, query = stripe_events.queries[0]
    assert path == "/v1/events" and query["created[gte]"] == [str(NOW - 3600)] and "delivery_success" not in query
    again = make_catchup(settings, store).run(iso(NOW - 3600))
    assert (again.new, again.duplicates) == (0, 5) and len(stored_ids(store)) == 5


def test_catchup_pages_through_the_window(settings: Settings, store: Store,  # noqa: F811
                                          mocked: responses.RequestsMock) -> None:  # noqa: F811
    made = [stripe_event("customer.updated", {"id": "cus_1", "object": "customer", "metadata": {}},
                         created=NOW - 5000 + n, event_id=f"evt_{n:04d}") for n in range(230)]
    stripe = MockedStripe(mocked, 0, made)
    report = make_catchup(settings, store).run(iso(NOW - 6000))
    stripe.close()
    assert report.fetched == 230 and report.requests == 3
    assert stored_ids(store) == [f"evt_{n:04d}" for n in range(230)]


def test_catchup_failed_only_asks_for_undelivered_events(settings: Settings, store: Store,  # noqa: F811
                                                         stripe_events: MockedStripe) -> None:
    report = make_catchup(settings, store).run(iso(NOW - 3600), failed_only=True)
    assert stripe_events.queries[0][1]["delivery_success"] == ["false"]
    assert report.fetched == 1 and stored_ids(store) == ["evt_1"]


def test_catchup_from_an_event_id_starts_at_its_time(settings: Settings, store: Store,  # noqa: F811
                                                     stripe_events: MockedStripe) -> None:
    report = make_catchup(settings, store).run("evt_2")
    assert stripe_events.queries[0][0] == "/v1/events/evt_2"
    assert report.since == NOW - 3000 + 2 and stored_ids(store) == ["evt_2", "evt_3", "evt_test"]


def test_catchup_says_plainly_when_asked_for_more_than_30_days(settings: Settings, store: Store,  # noqa: F811
                                                               stripe_events: MockedStripe) -> None:
    report = make_catchup(settings, store).run("2020-01-01T00:00:00Z")
    assert report.note is not None and "Stripe keeps events for 30 days" in report.note
    assert iso(NOW - RETENTION_SECONDS) in report.note
    assert stripe_events.queries[0][1]["created[gte]"] == [str(NOW - RETENTION_SECONDS)]


def test_catchup_refuses_a_since_it_cannot_read(settings: Settings, store: Store,  # noqa: F811
                                                stripe_events: MockedStripe) -> None:
    from bridge.errors import ConfigError
    with pytest.raises(ConfigError, match="ISO 8601"):
        make_catchup(settings, store).run("yesterday")


def test_event_types_are_the_mappings_and_the_customer_ones(settings: Settings) -> None:  # noqa: F811
    types = event_types(load_mappings(settings.mappings_dir))
    assert types is None or ("customer.updated" in types and "invoice.paid" in types and len(types) <= 20)


def test_catchup_events_keep_their_own_api_version_and_meet_the_same_check(
        settings: Settings, store: Store, mocked: responses.RequestsMock) -> None:  # noqa: F811
    versions = ["2025-09-30.clover", "2026-03-25.dahlia", "2026-10-28.endive", "2027-03-24.fig"]
    made = [stripe_event("customer.subscription.updated", subscription(sub_id=f"sub_{n}"), created=NOW - 100 + n,
                         event_id=f"evt_{n}", api_version=version) for n, version in enumerate(versions)]
    moved = subscription(sub_id="sub_moved")
    item = moved["items"]["data"][0]
    item["period"] = {"start": item.pop("current_period_start"), "end": item.pop("current_period_end")}
    made.append(stripe_event("customer.subscription.updated", moved, created=NOW - 50, event_id="evt_moved",
                             api_version="2027-03-24.fig"))
    stripe = MockedStripe(mocked, 0, made)
    make_catchup(settings, store).run(iso(NOW - 3600))
    map_all(settings, store, Clock(NOW))
    with store.engine.connect() as connection:
        found = {row.event_id: (row.api_version, row.status) for row in connection.execute(select(events))}
    assert found == {**{f"evt_{n}": (version, "mapped") for n, version in enumerate(versions)},
                     "evt_moved": ("2027-03-24.fig", "held")}
    stripe.close()
