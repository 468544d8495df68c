"""Paddle's list-subscriptions client: cursor paging, retries that honour Retry-After, errors that name the fix."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import responses
from responses import matchers

from bridge.errors import ConfigError
from bridge.providers.paddle.api import PAGE_SIZE, TRIES, PaddleApi, PaddleApiError

BASE = "https://sandbox-api.paddle.com"
KEY = "pdl_sdbx_apikey_01jtestkey_secretpart"


def page(ids: list[str], has_more: bool) -> dict[str, Any]:
    return {"data": [{"id": i, "status": "active"} for i in ids],
            "meta": {"request_id": "r", "pagination": {"per_page": PAGE_SIZE, "has_more": has_more,
                                                       "next": f"{BASE}/subscriptions?after={ids[-1] if ids else ''}",
                                                       "estimated_total": 3}}}


def client(waits: list[float] | None = None) -> PaddleApi:
    return PaddleApi(KEY, BASE, sleep=(waits.append if waits is not None else lambda _: None))


def query(**extra: str) -> Any:
    return matchers.query_param_matcher({"per_page": str(PAGE_SIZE), "order_by": "id[ASC]", **extra})


@responses.activate
def test_subscriptions_pages_with_after_and_a_bearer_key() -> None:
    auth = matchers.header_matcher({"Authorization": f"Bearer {KEY}"})
    responses.get(f"{BASE}/subscriptions", json=page(["sub_a", "sub_b"], True), match=[query(), auth])
    responses.get(f"{BASE}/subscriptions", json=page(["sub_c"], False), match=[query(after="sub_b"), auth])
    pages = list(client().subscriptions())
    assert [([s["id"] for s in items], cursor) for items, cursor in pages] == [
        (["sub_a", "sub_b"], "sub_b"), (["sub_c"], None)]
    assert all(call.request.req_kwargs["timeout"] for call in responses.calls)


@responses.activate
def test_subscriptions_resumes_from_a_cursor() -> None:
    responses.get(f"{BASE}/subscriptions", json=page(["sub_c"], False), match=[query(after="sub_b")])
    assert [cursor for _, cursor in client().subscriptions("sub_b")] == [None]


@responses.activate
def test_subscriptions_stops_on_an_empty_page_even_if_more_is_claimed() -> None:
    responses.get(f"{BASE}/subscriptions", json=page([], True))
    assert list(client().subscriptions()) == [([], None)]


@responses.activate
def test_a_429_waits_as_retry_after_says_then_goes_on() -> None:
    responses.get(f"{BASE}/subscriptions", status=429, headers={"Retry-After": "7"},
                  json={"error": {"code": "too_many_requests"}})
    responses.get(f"{BASE}/subscriptions", json=page(["sub_a"], False))
    waits: list[float] = []
    assert [[s["id"] for s in items] for items, _ in client(waits).subscriptions()] == [["sub_a"]]
    assert waits == [7.0]


@responses.activate
def test_a_5xx_without_retry_after_backs_off_then_goes_on() -> None:
    responses.get(f"{BASE}/subscriptions", status=503)
    responses.get(f"{BASE}/subscriptions", status=502)
    responses.get(f"{BASE}/subscriptions", json=page(["sub_a"], False))
    waits: list[float] = []
    list(client(waits).subscriptions())
    assert waits == [2.0, 4.0]


@responses.activate
def test_a_network_error_is_retried() -> None:
    responses.get(f"{BASE}/subscriptions", body=requests.ConnectionError("refused"))
    responses.get(f"{BASE}/subscriptions", json=page(["sub_a"], False))
    waits: list[float] = []
    list(client(waits).subscriptions())
    assert waits == [2.0]


@responses.activate
def test_a_429_that_persists_is_an_error_after_a_few_tries() -> None:
    responses.get(f"{BASE}/subscriptions", status=429, headers={"Retry-After": "1"})
    waits: list[float] = []
    with pytest.raises(PaddleApiError, match="429"):
        list(client(waits).subscriptions())
    assert len(responses.calls) == TRIES and waits == [1.0] * (TRIES - 1)


@responses.activate
def test_a_huge_retry_after_is_capped() -> None:
    responses.get(f"{BASE}/subscriptions", status=429, headers={"Retry-After": "86400"})
    responses.get(f"{BASE}/subscriptions", json=page(["sub_a"], False))
    waits: list[float] = []
    list(client(waits).subscriptions())
    assert waits == [120.0]


@pytest.mark.parametrize(("status", "error", "message"), [
    (401, ConfigError, "PADDLE_API_KEY"),
    (403, ConfigError, "subscription.read"),
    (404, PaddleApiError, "404 \\(not_found\\)"),
])
@responses.activate
def test_refusals_name_the_fix_and_never_the_key(status: int, error: type[Exception], message: str) -> None:
    responses.get(f"{BASE}/subscriptions", status=status, json={"error": {"code": "not_found"}})
    with pytest.raises(error, match=message) as raised:
        list(client().subscriptions())
    assert KEY not in str(raised.value)
    assert len(responses.calls) == 1


@responses.activate
def test_a_body_that_is_not_json_is_an_error() -> None:
    responses.get(f"{BASE}/subscriptions", body="<html>")
    with pytest.raises(PaddleApiError, match="not JSON"):
        list(client().subscriptions())
