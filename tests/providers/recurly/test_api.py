"""Recurly's API client (with `responses`): enrichment fetches, paging by `next`, retries and errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers

import bridge.providers.recurly as recurly
from bridge.errors import ConfigError
from bridge.providers import Event
from bridge.providers.recurly.api import ACCEPT, TRIES, NotFound, RecurlyApi, RecurlyApiError, enrichment, retry_after

BASE = "https://v3.eu.recurly.com"
SAMPLES = Path(recurly.__file__).parent / "samples"
KEY = "fake-private-key"


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text())
    return loaded


def api(sleeps: list[float] | None = None) -> RecurlyApi:
    waits = sleeps if sleeps is not None else []
    return RecurlyApi(KEY, BASE, sleep=waits.append, clock=lambda: 1_000_000_000.0)


def event_of(payload: dict[str, Any]) -> Event:
    return Event(provider="recurly", id="k", type=f"{payload['object_type']}.{payload['event_type']}",
                 created=1.0, livemode=None, api_version=None, connect_account=None, customer_id=None,
                 payload=payload)


AUTH = matchers.header_matcher({"Accept": ACCEPT, "Authorization": "Basic ZmFrZS1wcml2YXRlLWtleTo="})


@responses.activate
def test_enrich_fetches_the_subscription_by_uuid_then_its_account_and_plan() -> None:
    responses.get(f"{BASE}/subscriptions/uuid-6f1e2d3c4b5a69788796a5b4c3d2e1f0", json=sample("api.subscription"),
                  match=[AUTH])
    responses.get(f"{BASE}/accounts/afake0acct01", json=sample("api.account"), match=[AUTH])
    responses.get(f"{BASE}/plans/pfake0plan01", json=sample("api.plan"), match=[AUTH])
    found = enrichment(api(), event_of(sample("subscription.created")))
    assert found == {"subscription": sample("api.subscription"), "customer": sample("api.account"),
                     "plan": sample("api.plan")}


@responses.activate
def test_enrich_fetches_a_payments_transaction_and_its_subscription() -> None:
    responses.get(f"{BASE}/transactions/uuid-7a6b5c4d3e2f10011223344556677889", json=sample("api.transaction"))
    responses.get(f"{BASE}/subscriptions/sfake0sub001", json=sample("api.subscription"))
    responses.get(f"{BASE}/accounts/afake0acct01", json=sample("api.account"))
    responses.get(f"{BASE}/plans/pfake0plan01", json=sample("api.plan"))
    found = enrichment(api(), event_of(sample("payment.succeeded")))
    assert set(found) == {"transaction", "subscription", "customer", "plan"}


@responses.activate
def test_enrich_fetches_a_charge_invoice_by_id_and_its_subscription() -> None:
    responses.get(f"{BASE}/invoices/ifake0inv001", json=sample("api.invoice"))
    responses.get(f"{BASE}/subscriptions/sfake0sub001", json=sample("api.subscription"))
    responses.get(f"{BASE}/accounts/afake0acct01", json=sample("api.account"))
    responses.get(f"{BASE}/plans/pfake0plan01", json=sample("api.plan"))
    found = enrichment(api(), event_of(sample("charge_invoice.paid")))
    assert set(found) == {"invoice", "subscription", "customer", "plan"}


@responses.activate
def test_enrich_fetches_a_one_off_invoices_account() -> None:
    responses.get(f"{BASE}/invoices/ifake0inv001", json={**sample("api.invoice"), "subscription_ids": []})
    responses.get(f"{BASE}/accounts/afake0acct01", json=sample("api.account"))
    found = enrichment(api(), event_of(sample("charge_invoice.paid")))
    assert set(found) == {"invoice", "customer"}


@responses.activate
def test_enrich_fetches_an_accounts_event_by_its_code() -> None:
    responses.get(f"{BASE}/accounts/code-acme-co", json=sample("api.account"))
    assert enrichment(api(), event_of(sample("account.updated"))) == {"customer": sample("api.account")}


def test_enrich_asks_nothing_for_other_objects() -> None:
    payload = {"id": "x", "object_type": "gift_card", "event_type": "purchased"}
    assert enrichment(api(), event_of(payload)) == {}


@responses.activate
def test_a_missing_object_is_not_found() -> None:
    responses.get(f"{BASE}/subscriptions/uuid-6f1e2d3c4b5a69788796a5b4c3d2e1f0", status=404,
                  json={"error": {"type": "not_found"}})
    with pytest.raises(NotFound):
        enrichment(api(), event_of(sample("subscription.created")))


@responses.activate
def test_subscriptions_pages_through_next_links_and_resumes() -> None:
    first = {"object": "list", "has_more": True, "next": "/subscriptions?cursor=c2&limit=200", "data": [{"id": "s1"}]}
    last = {"object": "list", "has_more": False, "next": None, "data": [{"id": "s2"}]}
    responses.get(f"{BASE}/subscriptions", json=first,
                  match=[matchers.query_param_matcher({"limit": "200", "sort": "created_at", "order": "asc"})])
    responses.get(f"{BASE}/subscriptions", json=last,
                  match=[matchers.query_param_matcher({"cursor": "c2", "limit": "200"})])
    pages = [([item["id"] for item in items], cursor) for items, cursor in api().subscriptions()]
    assert pages == [(["s1"], "/subscriptions?cursor=c2&limit=200"), (["s2"], None)]
    resumed = [cursor for _, cursor in api().subscriptions("/subscriptions?cursor=c2&limit=200")]
    assert resumed == [None]


@pytest.mark.parametrize("cursor", ["https://evil.example/subscriptions?cursor=x", "/accounts?cursor=x"])
def test_subscriptions_refuse_a_cursor_that_is_not_a_list_path(cursor: str) -> None:
    with pytest.raises(RecurlyApiError, match="cursor"):
        next(api().subscriptions(cursor))


@responses.activate
def test_429_waits_as_retry_after_says() -> None:
    responses.get(f"{BASE}/plans/p1", status=429, headers={"Retry-After": "7"})
    responses.get(f"{BASE}/plans/p1", json={"id": "p1"})
    sleeps: list[float] = []
    assert api(sleeps).plan("p1") == {"id": "p1"}
    assert sleeps == [7.0]


@responses.activate
def test_5xx_is_retried_then_reported_as_retryable() -> None:
    responses.get(f"{BASE}/plans/p1", status=503)
    sleeps: list[float] = []
    with pytest.raises(RecurlyApiError, match="kept failing"):
        api(sleeps).plan("p1")
    assert len(responses.calls) == TRIES and sleeps == [1.0, 2.0, 4.0, 8.0]


@responses.activate
@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_is_a_config_error_without_the_key(status: int) -> None:
    responses.get(f"{BASE}/plans/p1", status=status)
    with pytest.raises(ConfigError, match="RECURLY_API_KEY") as caught:
        api().plan("p1")
    assert KEY not in str(caught.value)


@responses.activate
def test_an_answer_that_is_not_json_is_an_api_error() -> None:
    responses.get(f"{BASE}/plans/p1", body="<html>")
    with pytest.raises(RecurlyApiError, match="not a JSON object"):
        api().plan("p1")


def test_ids_are_quoted_into_paths() -> None:
    with responses.RequestsMock() as mock:
        mock.get(f"{BASE}/accounts/code-a%2Fb", json={"id": "x"})
        assert api().account("code-a/b") == {"id": "x"}


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after("3", 0.0) == 3.0
    assert retry_after("Thu, 01 Jan 1970 00:00:10 GMT", 0.0) == 10.0
    assert retry_after("soon", 0.0) is None and retry_after(None, 0.0) is None
