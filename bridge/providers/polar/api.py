"""Polar's subscription list (`GET /v1/subscriptions/`), page by page, for `bridge sync polar`.

Polar paginates by page number (`page` from 1, `limit` up to 100) and answers `{"items": [...], "pagination":
{"total_count", "max_page"}}` (server `polar/kit/pagination.py`). Pages are asked oldest subscription first
(`sorting=started_at`), so subscriptions started during a sync land on later pages instead of shifting earlier
ones. The cursor is the next page number. A 429 or 5xx is retried a few times, honouring `Retry-After`; a rerun
resumes from the cursor, so no durable retry is kept here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from bridge.errors import BridgeError
from bridge.providers.budget import RequestBudget
from bridge.providers.http import TIMEOUT, ApiClient
from bridge.providers.http import TRIES as TRIES
from bridge.providers.polar.config import API_KEY_VARIABLE

PAGE_SIZE = 100  # Polar's largest page


class PolarApiError(BridgeError):
    """Polar's API could not be used; pages already handed out stay valid and a rerun resumes from the cursor."""


@dataclass
class PolarApi:
    """Bearer-token calls to one Polar organization's API."""

    api_key: str = field(repr=False)
    api_base: str
    session: requests.Session = field(default_factory=requests.Session)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    timeout: float = TIMEOUT
    requests_per_second: float | None = None  # the budget (POLAR_REQUESTS_PER_SECOND); None: unpaced

    def __post_init__(self) -> None:
        budget = RequestBudget(self.requests_per_second, sleep=lambda seconds: self.sleep(seconds)) \
            if self.requests_per_second else None
        refused = "use an organization access token with the subscriptions:read scope, for this API address"
        self._http = ApiClient("Polar", API_KEY_VARIABLE, PolarApiError, on_401=refused, on_403=refused,
                               session=self.session, timeout=self.timeout,
                               sleep=lambda seconds: self.sleep(seconds), clock=lambda: self.clock(),
                               pace=budget.take if budget else _unpaced)

    def subscriptions(self, cursor: str | None = None) -> Iterator[tuple[list[Mapping[str, Any]], str | None]]:
        """Every subscription, a page at a time, with the cursor to resume after each page (None after the last)."""
        page = _page(cursor)
        while True:
            found = self.get("/v1/subscriptions/", {"page": page, "limit": PAGE_SIZE, "sorting": "started_at"})
            items, last = _list_page(found)
            more = bool(items) and page < last
            yield items, (str(page + 1) if more else None)
            if not more:
                return
            page += 1

    @property
    def requests(self) -> int:
        """Requests made, retries included (the sync's report, `api_requests`)."""
        return self._http.calls

    def get(self, path: str, params: Mapping[str, Any]) -> Any:
        """One GET, retried on connection errors, 429 and 5xx; its JSON."""
        return self._http.json(self.api_base, path, params=dict(params), headers={
            "Authorization": f"Bearer {self.api_key}", "Accept": "application/json"})


def _unpaced() -> None:
    return None


def _list_page(found: Any) -> tuple[list[Mapping[str, Any]], int]:
    """The items and the last page number of a list answer; PolarApiError when it is not one."""
    pagination = found.get("pagination") if isinstance(found, dict) else None
    items = found.get("items") if isinstance(found, dict) else None
    last = pagination.get("max_page") if isinstance(pagination, dict) else None
    if not isinstance(items, list) or not isinstance(last, int) or isinstance(last, bool):
        raise PolarApiError("Polar's API answered the subscription list without items and pagination")
    return [item for item in items if isinstance(item, dict)], last


def _page(cursor: str | None) -> int:
    if cursor is None:
        return 1
    if not cursor.isdigit() or int(cursor) < 1:
        raise PolarApiError(f"not a Polar resume cursor (a page number): {cursor[:20]!r}")
    return int(cursor)
