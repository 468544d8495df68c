"""The request budget toward a provider's API, and the pace it sets on every request of an `ApiClient`."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest
import responses

from bridge.errors import BridgeError, ConfigError
from bridge.providers import registry
from bridge.providers.budget import RequestBudget
from bridge.providers.http import ApiClient
from bridge.providers.variables import requests_per_second


class Clock:
    """A clock that a sleep moves on."""

    def __init__(self) -> None:
        self.now, self.slept = 100.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_the_first_request_goes_at_once_then_one_each_interval() -> None:
    clock = Clock()
    budget = RequestBudget(2.0, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        budget.take()
    assert clock.slept == [0.5, 0.5, 0.5]
    assert clock.now == pytest.approx(101.5)


def test_time_already_spent_between_requests_is_not_waited_again() -> None:
    clock = Clock()
    budget = RequestBudget(1.0, clock=clock, sleep=clock.sleep)
    budget.take()
    clock.now += 0.75  # the caller's own work between requests
    budget.take()
    assert clock.slept == [0.25]


@responses.activate
def test_every_try_of_an_api_client_waits_for_the_budget_retries_included() -> None:
    responses.get("https://api.example.test/things", status=503)
    responses.get("https://api.example.test/things", json={"ok": True})
    clock = Clock()
    budget = RequestBudget(4.0, clock=clock, sleep=clock.sleep)
    client = ApiClient("Example", "EXAMPLE_API_KEY", BridgeError, sleep=lambda seconds: None, pace=budget.take)
    assert client.object("https://api.example.test", "/things") == {"ok": True}
    assert (client.calls, clock.slept) == (2, [0.25])


@pytest.mark.parametrize(("raw", "expected"), [("", 2.0), (" 0.5 ", 0.5), ("1000", 1000.0)])
def test_the_rate_setting_reads_a_number(raw: str, expected: float) -> None:
    assert requests_per_second({"X_REQUESTS_PER_SECOND": raw}, "X_REQUESTS_PER_SECOND", 2.0) == expected


@pytest.mark.parametrize("raw", ["fast", "0", "0.01", "1001", "nan", "inf"])
def test_an_unusable_rate_names_the_variable_and_its_bounds(raw: str) -> None:
    with pytest.raises(ConfigError, match="X_REQUESTS_PER_SECOND"):
        requests_per_second({"X_REQUESTS_PER_SECOND": raw}, "X_REQUESTS_PER_SECOND", 2.0)


# Each provider with a list API reads its own budget, and its client paces every request by it.
BUDGETS = {
    "paddle": ("PADDLE_REQUESTS_PER_SECOND", 2.0, {"PADDLE_WEBHOOK_SECRET": "pdl_ntfset_x", "PADDLE_API_KEY": "k"}),
    "chargebee": ("CHARGEBEE_REQUESTS_PER_SECOND", 1.0, {
        "CHARGEBEE_WEBHOOK_USERNAME": "hooks", "CHARGEBEE_WEBHOOK_PASSWORD": "pw", "CHARGEBEE_SITE": "acme",
        "CHARGEBEE_API_KEY": "k"}),
    "polar": ("POLAR_REQUESTS_PER_SECOND", 1.0, {"POLAR_WEBHOOK_SECRET": "whsec_x", "POLAR_API_KEY": "k"}),
}


@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_a_provider_s_budget_is_its_own_variable_with_a_default_below_its_limit(name: str) -> None:
    variable, default, env = BUDGETS[name]
    package = registry.package(name)
    assert variable in package.VARIABLES
    assert package.source(package.configure(env)).requests_per_second == default
    assert package.source(package.configure({**env, variable: "0.5"})).requests_per_second == 0.5
    with pytest.raises(ConfigError, match=variable):
        package.configure({**env, variable: "0"})


@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_a_provider_s_list_pages_are_paced_by_its_budget(name: str) -> None:
    variable, _, env = BUDGETS[name]
    package = registry.package(name)
    source = package.source(package.configure({**env, variable: "0.5"}))
    waits: list[float] = []
    source.sleep = waits.append  # the budget waits through the client's sleep (a reconcile cuts it short)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add_callback(responses.GET, re.compile(r"https://.*"), callback=_one_item_pages)
        pages = list(itertools.islice(source.subscriptions(), 3))
    assert len(pages) == 3
    # One request every 2 s, the first at once. The recorded sleep lets no time pass, so each wait counts from the
    # first request: the second goes 2 s after it, the third 4 s after it.
    assert [round(wait, 1) for wait in waits] == [2.0, 4.0]


def _one_item_pages(request: Any) -> tuple[int, dict[str, str], str]:
    """Endless one-subscription pages in Paddle's, Chargebee's and Polar's list shapes at once."""
    n = len(_one_item_pages.__dict__.setdefault("asked", []))
    _one_item_pages.__dict__["asked"].append(request.url)
    item = {"id": f"sub_{n:04d}", "status": "active"}
    body = {"data": [item], "meta": {"pagination": {"has_more": True}},  # Paddle
            "list": [{"subscription": item}], "next_offset": str(n + 1),  # Chargebee
            "items": [item], "pagination": {"total_count": 99, "max_page": 99}}  # Polar
    return 200, {"Content-Type": "application/json"}, json.dumps(body)
