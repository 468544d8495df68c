"""Maxio's API client (`responses` stands in for Maxio): paging, enrichment, retries and errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

import bridge.providers.maxio as maxio
from bridge.errors import ConfigError
from bridge.providers import Event
from bridge.providers.maxio.api import PAGE_SIZE, MaxioApi, MaxioApiError, NotFound, enrichment, retry_after

BASE = "https://contract-co.chargify.com"
SAMPLES = Path(maxio.__file__).parent / "samples"


def answer(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def api(waits: list[float] | None = None) -> MaxioApi:
    return MaxioApi(BASE, "key_abc", sleep=(waits if waits is not None else []).append, clock=lambda: 1000.0)


def event() -> Event:
    return Event(provider="maxio", id="1", type="signup_success", created=1.0, livemode=None, api_version=None,
                 connect_account=None, customer_id="48213377",
                 payload={"id": "1", "event": "signup_success", "payload": {"subscription": {"id": "71834529"}}})


def _contract_answers() -> None:
    responses.get(f"{BASE}/subscriptions/71834529.json", json=answer("api_subscription.json"))
    responses.get(f"{BASE}/subscriptions/71834529/components.json", json=answer("api_components.json"))
    responses.get(f"{BASE}/components/2299001/price_points/2300045.json", json=answer("api_price_point.json"))
    responses.get(f"{BASE}/customers/48213377/metadata.json", json=answer("api_metadata.json"))


@responses.activate
def test_enrich_reads_what_webhooks_leave_out_with_basic_auth() -> None:
    _contract_answers()
    found = enrichment(api(), event())
    assert found["subscription"]["id"] == 71834529 and len(found["components"]) == 2
    assert list(found["price_points"]) == ["2299001:2300045"]  # the metered component needs no price point
    assert found["metafields"] == {"pendo_account_id": "acct-contract", "pendo_visitor_id": "user-contract"}
    assert responses.calls[0].request.headers["Authorization"] == "Basic a2V5X2FiYzp4"  # key_abc:x
    contract = Path(__file__).resolve().parents[2] / "fixtures" / "contract" / "maxio" / "enrichment"
    assert found == json.loads((contract / "created.json").read_text())


@responses.activate
def test_subscriptions_pages_until_a_short_page_with_components_attached() -> None:
    sub = answer("api_subscription.json")
    full = [{"subscription": {**sub["subscription"], "id": n}} for n in range(1, PAGE_SIZE + 1)]
    responses.get(f"{BASE}/subscriptions.json", json=full)
    responses.get(f"{BASE}/subscriptions.json", json=[{"subscription": {**sub["subscription"], "id": 999}}])
    for n in [*range(1, PAGE_SIZE + 1), 999]:
        responses.get(f"{BASE}/subscriptions/{n}/components.json", json=[])
    pages = list(api().subscriptions())
    assert [(len(page), cursor) for page, cursor in pages] == [(PAGE_SIZE, "2"), (1, None)]
    assert pages[1][0][0]["components"] == [] and pages[1][0][0]["component_price_points"] == {}
    first = responses.calls[0].request.url
    assert "page=1" in first and f"per_page={PAGE_SIZE}" in first


@responses.activate
def test_subscriptions_resumes_from_the_cursor() -> None:
    responses.get(f"{BASE}/subscriptions.json", json=[])
    assert list(api().subscriptions("7")) == [([], None)]
    assert "page=7" in responses.calls[0].request.url


@responses.activate
def test_429_and_5xx_are_retried_honouring_retry_after() -> None:
    responses.get(f"{BASE}/subscriptions/5.json", status=429, headers={"Retry-After": "7"})
    responses.get(f"{BASE}/subscriptions/5.json", status=503)
    responses.get(f"{BASE}/subscriptions/5.json", json={"subscription": {"id": 5}})
    waits: list[float] = []
    assert api(waits).subscription("5") == {"id": 5}
    assert waits == [7.0, 2.0]


@responses.activate
def test_failures_that_last_raise_an_api_error() -> None:
    responses.get(f"{BASE}/subscriptions/5.json", body=requests.ConnectionError("down"))
    with pytest.raises(MaxioApiError, match="after 5 tries"):
        api().subscription("5")


@pytest.mark.parametrize(("status", "error", "message"), [
    (401, ConfigError, "MAXIO_API_KEY"), (403, ConfigError, "MAXIO_API_KEY"), (404, NotFound, "404"),
    (422, MaxioApiError, "422")])
@responses.activate
def test_errors(status: int, error: type[Exception], message: str) -> None:
    responses.get(f"{BASE}/subscriptions/5.json", status=status, json={"errors": ["no"]})
    with pytest.raises(error, match=message) as caught:
        api().subscription("5")
    assert "key_abc" not in str(caught.value)


@responses.activate
def test_answers_that_are_not_json_lists_or_ids_that_are_not_numbers_are_refused() -> None:
    responses.get(f"{BASE}/subscriptions/5/components.json", json={"not": "a list"})
    responses.get(f"{BASE}/subscriptions/6.json", body="NaN")
    with pytest.raises(MaxioApiError, match="not a list"):
        api().components("5")
    with pytest.raises(MaxioApiError, match="not usable JSON"):
        api().subscription("6")
    with pytest.raises(NotFound, match="not a number"):
        api().subscription("../admin")
    assert len(responses.calls) == 2


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after("12", 0.0) == 12.0
    assert retry_after("Thu, 01 Jan 1970 00:00:30 GMT", 10.0) == 20.0
    assert retry_after("soon", 0.0) is None and retry_after(None, 0.0) is None
