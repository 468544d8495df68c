"""Chargebee's API client, with `responses` standing in for Chargebee: paging, the event re-fetch, retries."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from bridge.errors import ConfigError
from bridge.providers.chargebee.api import (
    PAGE_SIZE,
    TRIES,
    ChargebeeApi,
    ChargebeeApiError,
    EventNotConfirmed,
    enrichment,
    retry_after,
)
from bridge.providers.chargebee.webhook import ChargebeeProvider

BASE = "https://acme.chargebee.com/api/v2"
SAMPLES = Path(__file__).resolve().parents[3] / "bridge" / "providers" / "chargebee" / "samples"
SAMPLE = json.loads((SAMPLES / "subscription_created.json").read_text())


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def api(sleeps: Sleeps | None = None) -> ChargebeeApi:
    return ChargebeeApi(BASE, "test_key123", sleep=sleeps or Sleeps(), clock=lambda: 1_000_000.0)


def entry(number: int) -> dict[str, Any]:
    return {"subscription": {"id": f"sub_{number}", "customer_id": f"cus_{number}", "object": "subscription"},
            "customer": {"id": f"cus_{number}", "cf_pendo_account_id": f"acct-{number}", "object": "customer"}}


@responses.activate
def test_chargebee_api_pages_through_subscriptions_with_offset() -> None:
    responses.get(f"{BASE}/subscriptions", json={"list": [entry(1), entry(2)], "next_offset": '["1700","2"]'},
                  match=[responses.matchers.query_param_matcher({"limit": str(PAGE_SIZE)})])
    responses.get(f"{BASE}/subscriptions", json={"list": [entry(3)]},
                  match=[responses.matchers.query_param_matcher({"limit": str(PAGE_SIZE), "offset": '["1700","2"]'})])
    pages = list(api().subscriptions())
    assert [[item["id"] for item in page] for page, _ in pages] == [["sub_1", "sub_2"], ["sub_3"]]
    assert [cursor for _, cursor in pages] == ['["1700","2"]', None]
    assert pages[0][0][0]["customer"]["cf_pendo_account_id"] == "acct-1"


@responses.activate
def test_chargebee_api_resumes_from_a_cursor() -> None:
    responses.get(f"{BASE}/subscriptions", json={"list": [entry(9)]},
                  match=[responses.matchers.query_param_matcher({"limit": "100", "offset": "cursor-1"})])
    assert [[item["id"] for item in page] for page, _ in api().subscriptions("cursor-1")] == [["sub_9"]]


@responses.activate
def test_chargebee_api_authenticates_with_the_key_as_basic_username() -> None:
    responses.get(f"{BASE}/subscriptions", json={"list": []})
    list(api().subscriptions())
    header = responses.calls[0].request.headers["Authorization"]
    assert header == "Basic " + base64.b64encode(b"test_key123:").decode()


@responses.activate
def test_chargebee_api_retries_429_honouring_retry_after() -> None:
    responses.get(f"{BASE}/subscriptions", status=429, headers={"Retry-After": "7"},
                  json={"api_error_code": "api_request_limit_exceeded"})
    responses.get(f"{BASE}/subscriptions", status=503)
    responses.get(f"{BASE}/subscriptions", json={"list": [entry(1)]})
    sleeps = Sleeps()
    client = api(sleeps)
    assert [len(page) for page, _ in client.subscriptions()] == [1]
    assert sleeps.waits == [7.0, 2.0]
    assert client.calls == 3


@responses.activate
def test_chargebee_api_gives_up_after_its_tries() -> None:
    for _ in range(TRIES):
        responses.get(f"{BASE}/subscriptions", status=500)
    sleeps = Sleeps()
    with pytest.raises(ChargebeeApiError, match="HTTP 500"):
        list(api(sleeps).subscriptions())
    assert len(sleeps.waits) == TRIES - 1


@responses.activate
def test_chargebee_api_retries_connection_errors() -> None:
    responses.get(f"{BASE}/subscriptions", body=requests.ConnectionError("refused"))
    responses.get(f"{BASE}/subscriptions", json={"list": []})
    assert list(api().subscriptions()) == [([], None)]


@pytest.mark.parametrize(("status", "error", "match"), [
    (401, ConfigError, "CHARGEBEE_API_KEY"), (403, ConfigError, "permission"),
    (400, ChargebeeApiError, "param_wrong_value"),
])
@responses.activate
def test_chargebee_api_errors_name_what_to_fix(status: int, error: type[Exception], match: str) -> None:
    responses.get(f"{BASE}/subscriptions", status=status,
                  json={"message": "secret echo test_key123", "api_error_code": "param_wrong_value"})
    with pytest.raises(error, match=match) as raised:
        list(api().subscriptions())
    assert "test_key123" not in str(raised.value)


@responses.activate
def test_chargebee_api_refuses_an_answer_that_is_not_json() -> None:
    responses.get(f"{BASE}/subscriptions", body="<html>maintenance</html>")
    with pytest.raises(ChargebeeApiError, match="not usable JSON"):
        list(api().subscriptions())


# --- the event re-fetch

def webhook_event() -> Any:
    return ChargebeeProvider("u", "p").parse(json.dumps(SAMPLE).encode())


@responses.activate
def test_chargebee_enrichment_returns_chargebees_copy() -> None:
    fetched = copy.deepcopy(SAMPLE)
    fetched["webhook_status"] = "succeeded"
    responses.get(f"{BASE}/events/ev_AzZTZgUpjQoEh2Mg", json={"event": fetched})
    assert enrichment(api(), webhook_event()) == {"event": fetched}


@responses.activate
def test_chargebee_enrichment_refuses_an_event_chargebee_does_not_know() -> None:
    responses.get(f"{BASE}/events/ev_AzZTZgUpjQoEh2Mg", status=404,
                  json={"api_error_code": "resource_not_found", "message": "Sorry, we couldn't find that resource"})
    with pytest.raises(EventNotConfirmed, match="not genuine"):
        enrichment(api(), webhook_event())


@pytest.mark.parametrize("change", [{"event_type": "subscription_cancelled"}, {"occurred_at": 1},
                                    {"id": "ev_other"}])
@responses.activate
def test_chargebee_enrichment_refuses_a_copy_that_differs(change: dict[str, Any]) -> None:
    responses.get(f"{BASE}/events/ev_AzZTZgUpjQoEh2Mg", json={"event": {**SAMPLE, **change}})
    with pytest.raises(EventNotConfirmed, match="differs"):
        enrichment(api(), webhook_event())


@responses.activate
def test_chargebee_enrichment_quotes_the_event_id() -> None:
    event = ChargebeeProvider("u", "p").parse(json.dumps({**SAMPLE, "id": "ev_a/../b?c"}).encode())
    responses.get(f"{BASE}/events/ev_a%2F..%2Fb%3Fc", json={"event": {**SAMPLE, "id": "ev_a/../b?c"}})
    assert enrichment(api(), event)["event"]["id"] == "ev_a/../b?c"


@responses.activate
def test_chargebee_enrichment_unreachable_is_retryable_not_a_refusal() -> None:
    for _ in range(TRIES):
        responses.get(f"{BASE}/events/ev_AzZTZgUpjQoEh2Mg", status=502)
    with pytest.raises(ChargebeeApiError) as raised:
        enrichment(api(), webhook_event())
    assert not isinstance(raised.value, EventNotConfirmed)


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), ("", None), ("12", 12.0), ("soon", None),
    ("Mon, 12 Jan 1970 13:46:50 GMT", 10.0),  # 1_000_010 s after the epoch, 10 s after the clock
    ("Mon, 12 Jan 1970 13:46:30 GMT", 0.0),
])
def test_chargebee_retry_after(value: str | None, expected: float | None) -> None:
    assert retry_after(value, 1_000_000.0) == expected


@responses.activate
def test_chargebee_api_caps_a_long_retry_after() -> None:
    responses.get(f"{BASE}/subscriptions", status=429, headers={"Retry-After": "3600"})
    responses.get(f"{BASE}/subscriptions", json={"list": []})
    sleeps = Sleeps()
    list(api(sleeps).subscriptions())
    assert sleeps.waits == [60.0]
