"""Lemon Squeezy's API client (with `responses`): enrichment fetches, paging, retries and errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

import bridge.providers.lemonsqueezy as lemonsqueezy
from bridge.errors import ConfigError
from bridge.providers import Event
from bridge.providers.lemonsqueezy.api import TRIES, LemonSqueezyApi, LemonSqueezyApiError, NotFound, enrichment

BASE = "https://api.lemonsqueezy.com"
SAMPLES = Path(lemonsqueezy.__file__).parent / "samples"
KEY = "fake-lemon-key"
AUTH = matchers.header_matcher({"Accept": "application/vnd.api+json", "Authorization": f"Bearer {KEY}"})


def load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text())
    return loaded


def api(sleeps: list[float] | None = None) -> LemonSqueezyApi:
    waits = sleeps if sleeps is not None else []
    return LemonSqueezyApi(KEY, BASE, sleep=waits.append, clock=lambda: 1_000_000_000.0)


def event_of(payload: dict[str, Any]) -> Event:
    return Event(provider="lemonsqueezy", id="k", type=payload["meta"]["event_name"], created=1.0, livemode=True,
                 api_version=None, connect_account=None, customer_id=None, payload=payload)


def page(ids: list[str], current: int, last: int) -> dict[str, Any]:
    return {"meta": {"page": {"currentPage": current, "from": 1, "lastPage": last, "perPage": 100, "to": 2,
                              "total": 3}},
            "jsonapi": {"version": "1.0"}, "data": [{"type": "subscriptions", "id": i} for i in ids]}


def query(number: int) -> Any:
    return matchers.query_param_matcher({"page[number]": str(number), "page[size]": "100"})


@responses.activate
def test_enrich_fetches_the_price_and_the_store() -> None:
    responses.get(f"{BASE}/v1/prices/108000", json={"data": load("api.price")}, match=[AUTH])
    responses.get(f"{BASE}/v1/stores/41000", json={"data": load("api.store")}, match=[AUTH])
    found = enrichment(api(), event_of(load("subscription_created")))
    assert found == {"price": load("api.price"), "store": load("api.store")}


def test_enrich_asks_nothing_for_invoices_and_orders() -> None:
    assert enrichment(api(), event_of(load("subscription_payment_success"))) == {}
    assert enrichment(api(), event_of(load("order_refunded"))) == {}


@responses.activate
def test_a_missing_price_is_not_found() -> None:
    responses.get(f"{BASE}/v1/prices/108000", status=404, json={"errors": [{"status": "404"}]})
    with pytest.raises(NotFound):
        enrichment(api(), event_of(load("subscription_created")))


@responses.activate
def test_subscriptions_pages_by_number_and_resumes() -> None:
    responses.get(f"{BASE}/v1/subscriptions", json=page(["1", "2"], 1, 2), match=[query(1), AUTH])
    responses.get(f"{BASE}/v1/subscriptions", json=page(["3"], 2, 2), match=[query(2)])
    pages = [([item["id"] for item in items], cursor) for items, cursor in api().subscriptions()]
    assert pages == [(["1", "2"], "2"), (["3"], None)]
    assert [cursor for _, cursor in api().subscriptions("2")] == [None]


@responses.activate
def test_an_empty_store_is_one_empty_page() -> None:
    responses.get(f"{BASE}/v1/subscriptions", json=page([], 1, 1))
    assert list(api().subscriptions()) == [([], None)]


@pytest.mark.parametrize("cursor", ["0", "abc", "-1"])
def test_a_bad_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(LemonSqueezyApiError, match="cursor"):
        next(api().subscriptions(cursor))


@responses.activate
def test_429_waits_as_retry_after_says() -> None:
    responses.get(f"{BASE}/v1/prices/1", status=429, headers={"Retry-After": "12"})
    responses.get(f"{BASE}/v1/prices/1", json={"data": {"type": "prices", "id": "1"}})
    sleeps: list[float] = []
    assert api(sleeps).resource("prices", "1") == {"type": "prices", "id": "1"}
    assert sleeps == [12.0]


@responses.activate
def test_5xx_is_retried_then_reported_as_retryable() -> None:
    responses.get(f"{BASE}/v1/prices/1", status=502)
    sleeps: list[float] = []
    with pytest.raises(LemonSqueezyApiError, match="kept failing"):
        api(sleeps).resource("prices", "1")
    assert len(responses.calls) == TRIES and sleeps == [1.0, 2.0, 4.0, 8.0]


@responses.activate
@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_is_a_config_error_without_the_key(status: int) -> None:
    responses.get(f"{BASE}/v1/prices/1", status=status)
    with pytest.raises(ConfigError, match="LEMONSQUEEZY_API_KEY") as caught:
        api().resource("prices", "1")
    assert KEY not in str(caught.value)


@responses.activate
def test_an_answer_without_data_is_an_api_error() -> None:
    responses.get(f"{BASE}/v1/prices/1", json={"errors": []})
    with pytest.raises(LemonSqueezyApiError, match="no data"):
        api().resource("prices", "1")
