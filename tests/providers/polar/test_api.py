"""Polar's subscription list: paging, resuming, retries honouring Retry-After, and errors (with `responses`)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import responses
from responses import matchers

from bridge.errors import ConfigError
from bridge.providers.polar.api import TRIES, PolarApi, PolarApiError

BASE = "https://sandbox-api.polar.sh"
URL = f"{BASE}/v1/subscriptions/"


def page(ids: list[str], max_page: int) -> dict[str, Any]:
    return {"items": [{"id": i, "status": "active"} for i in ids],
            "pagination": {"total_count": 3, "max_page": max_page}}


def api(sleeps: list[float] | None = None) -> PolarApi:
    waits = sleeps if sleeps is not None else []
    return PolarApi("polar_oat_test", BASE, sleep=waits.append, clock=lambda: 1_000_000_000.0)


def query(page_number: int) -> Any:
    return matchers.query_param_matcher({"page": str(page_number), "limit": "100", "sorting": "started_at"})


@responses.activate
def test_subscriptions_pages_through_with_a_bearer_token() -> None:
    responses.get(URL, json=page(["a", "b"], 2), match=[query(1), matchers.header_matcher(
        {"Authorization": "Bearer polar_oat_test"})])
    responses.get(URL, json=page(["c"], 2), match=[query(2)])
    pages = list(api().subscriptions())
    assert [([item["id"] for item in items], cursor) for items, cursor in pages] == [(["a", "b"], "2"), (["c"], None)]


@responses.activate
def test_subscriptions_resume_from_a_cursor() -> None:
    responses.get(URL, json=page(["c"], 2), match=[query(2)])
    assert [cursor for _, cursor in api().subscriptions("2")] == [None]


@responses.activate
def test_an_empty_organization_is_one_empty_page() -> None:
    responses.get(URL, json={"items": [], "pagination": {"total_count": 0, "max_page": 0}})
    assert list(api().subscriptions()) == [([], None)]


@responses.activate
def test_429_waits_as_retry_after_says() -> None:
    responses.get(URL, status=429, headers={"Retry-After": "7"})
    responses.get(URL, json=page(["a"], 1))
    sleeps: list[float] = []
    assert [len(items) for items, _ in api(sleeps).subscriptions()] == [1]
    assert sleeps == [7.0]


@responses.activate
def test_retry_after_as_an_http_date() -> None:
    responses.get(URL, status=503, headers={"Retry-After": "Sun, 09 Sep 2001 01:46:52 GMT"})  # clock + 12 s
    responses.get(URL, json=page(["a"], 1))
    sleeps: list[float] = []
    list(api(sleeps).subscriptions())
    assert sleeps == [12.0]


@responses.activate
def test_5xx_without_retry_after_backs_off_then_gives_up() -> None:
    responses.get(URL, status=502)
    sleeps: list[float] = []
    with pytest.raises(PolarApiError, match="502"):
        list(api(sleeps).subscriptions())
    assert len(responses.calls) == TRIES and sleeps == [1.0, 2.0, 4.0, 8.0]


@responses.activate
def test_connection_errors_are_retried() -> None:
    responses.get(URL, body=requests.ConnectionError("refused"))
    responses.get(URL, json=page(["a"], 1))
    sleeps: list[float] = []
    assert len(list(api(sleeps).subscriptions())) == 1 and sleeps == [1.0]


@pytest.mark.parametrize("status", [401, 403])
@responses.activate
def test_a_refused_key_is_a_config_error_naming_the_variable(status: int) -> None:
    responses.get(URL, status=status, json={"error": "invalid_token"})
    with pytest.raises(ConfigError, match="POLAR_API_KEY") as refused:
        list(api().subscriptions())
    assert "polar_oat_test" not in str(refused.value)
    assert len(responses.calls) == 1


@pytest.mark.parametrize("answer", [{"items": []}, {"pagination": {"max_page": 1}}, [1, 2]])
@responses.activate
def test_an_answer_that_is_not_a_list_page_is_refused(answer: Any) -> None:
    responses.get(URL, json=answer)
    with pytest.raises(PolarApiError, match="without items and pagination"):
        list(api().subscriptions())


@responses.activate
def test_a_4xx_is_an_error_without_retry() -> None:
    responses.get(URL, status=422, json={"detail": []})
    with pytest.raises(PolarApiError, match="422"):
        list(api().subscriptions())
    assert len(responses.calls) == 1


@pytest.mark.parametrize("cursor", ["0", "abc", "-1", ""])
def test_a_bad_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(PolarApiError, match="cursor"):
        list(api().subscriptions(cursor or "x"))


def test_repr_hides_the_key() -> None:
    assert "polar_oat_test" not in repr(api())
