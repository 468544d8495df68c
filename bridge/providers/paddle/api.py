"""Paddle's list-subscriptions endpoint, page by page, for `bridge sync paddle`.

`GET /subscriptions` pages with `after` (the last id seen) and `per_page` (at most 200), ordered by id so a
cursor resumes where a run stopped (developer.paddle.com/api-reference/subscriptions/list-subscriptions).
Authentication is `Authorization: Bearer <API key>`. Paddle answers 429 with `Retry-After` in seconds when an
IP address makes more than 240 requests a minute (developer.paddle.com/api-reference/about/rate-limiting);
429 and 5xx are retried a few times in-process, waiting as asked; a rerun resumes from the cursor.

`events()` lists `GET /events` the same way, newest first (`order_by=id[DESC]`), for `bridge catchup paddle`
(developer.paddle.com/api-reference/events/list-events).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from bridge.errors import BridgeError
from bridge.providers.budget import RequestBudget
from bridge.providers.http import TRIES as TRIES
from bridge.providers.http import ApiClient, error_code

PAGE_SIZE = 200  # Paddle's largest page
TIMEOUT = (5.0, 30.0)  # connect, read
MAX_WAIT = 120.0  # seconds; Paddle's rate limit locks an address out for 60 s


class PaddleApiError(BridgeError):
    """Paddle's API could not be used; the pages read so far are kept and a rerun resumes."""


@dataclass
class PaddleApi:
    """A small client of Paddle's API with one bearer key; implements `SubscriptionSource`."""

    api_key: str
    base: str
    session: requests.Session = field(default_factory=requests.Session)
    sleep: Callable[[float], None] = time.sleep
    requests_per_second: float | None = None  # the budget (PADDLE_REQUESTS_PER_SECOND); None: unpaced

    def __post_init__(self) -> None:
        budget = RequestBudget(self.requests_per_second, sleep=lambda seconds: self.sleep(seconds)) \
            if self.requests_per_second else None
        self._http = ApiClient("Paddle", "PADDLE_API_KEY", PaddleApiError,
                               on_401="set a valid API key for this account (a sandbox key only works with the "
                                      "sandbox PADDLE_API_BASE)",
                               on_403="it lacks the read permission of what it lists (subscription.read for "
                                      "/subscriptions, event.read for /events)",
                               detail=lambda response: error_code(response, "error", "code"),
                               session=self.session,
                               sleep=lambda seconds: self.sleep(seconds), timeout=TIMEOUT, max_wait=MAX_WAIT,
                               first_wait=2.0, pace=budget.take if budget else _unpaced)

    def subscriptions(self, cursor: str | None = None) -> Iterator[tuple[list[Mapping[str, Any]], str | None]]:
        """Every subscription, a page at a time, with the cursor to resume after it (None after the last)."""
        after = cursor
        while True:
            params = {"per_page": str(PAGE_SIZE), "order_by": "id[ASC]", **({"after": after} if after else {})}
            body = self.get("/subscriptions", params)
            page = [item for item in body.get("data") or [] if isinstance(item, Mapping)]
            pagination = body.get("meta", {}).get("pagination", {}) if isinstance(body.get("meta"), Mapping) else {}
            last = page[-1].get("id") if page else None
            more = bool(pagination.get("has_more")) and isinstance(last, str) and last != after
            yield page, last if more else None
            if not more:
                return
            after = last

    @property
    def requests(self) -> int:
        """Requests made, retries included (the sync's and catch-up's reports)."""
        return self._http.calls

    def events(self) -> Iterator[list[Mapping[str, Any]]]:
        """Every event Paddle still keeps, a page at a time, newest first (`order_by=id[DESC]`; ids grow with
        time). The next page is asked `after` the cursor of `meta.pagination.next`, else the page's last id."""
        after: str | None = None
        while True:
            params = {"per_page": str(PAGE_SIZE), "order_by": "id[DESC]", **({"after": after} if after else {})}
            body = self.get("/events", params)
            page = [item for item in body.get("data") or [] if isinstance(item, Mapping)]
            pagination = body.get("meta", {}).get("pagination", {}) if isinstance(body.get("meta"), Mapping) else {}
            following = _next_cursor(pagination, page)
            yield page
            if not pagination.get("has_more") or following is None or following == after:
                return
            after = following

    def get(self, path: str, params: Mapping[str, str]) -> Mapping[str, Any]:
        """One GET, retried on 429/5xx and network errors; errors name what to fix, never the key."""
        return self._http.object(self.base, path, params=params, headers={
            "Authorization": f"Bearer {self.api_key}", "Accept": "application/json"})


def _unpaced() -> None:
    return None


def _next_cursor(pagination: Mapping[str, Any], page: list[Mapping[str, Any]]) -> str | None:
    """The `after` of Paddle's `next` address, else the last event's id; None when there is neither."""
    following = pagination.get("next")
    if isinstance(following, str):
        found = parse_qs(urlsplit(following).query).get("after")
        if found and found[0]:
            return found[0]
    last = page[-1].get("event_id") if page else None
    return last if isinstance(last, str) and last else None
