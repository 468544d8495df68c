"""A fake Paddle API on loopback: `GET /events` and `GET /subscriptions`, cursor-paged as Paddle pages them.

It checks the bearer key, answers 401 with Paddle's error shape for any other, and can be told to answer 429
with `Retry-After` first. Lists are ordered by id (`order_by=id[ASC]` or `id[DESC]`), `per_page` at most 200
(`max_per_page` lowers it, so a few subscriptions fill several pages), and `meta.pagination.next` carries the
`after` cursor (the last id of the page), as Paddle's answers do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.fakes.provider_api import FakeProviderApi, bearer

MAX_PER_PAGE = 200


class FakePaddle(FakeProviderApi):
    """Serves given events and subscriptions until closed."""

    def __init__(self, api_key: str, events: list[dict[str, Any]], subscriptions: list[dict[str, Any]] | None = None,
                 max_per_page: int = MAX_PER_PAGE):
        error = {"error": {"type": "request_error", "code": "authentication_malformed"}, "meta": {"request_id": "r"}}
        limited = {"error": {"type": "request_error", "code": "too_many_requests"}, "meta": {"request_id": "r"}}
        super().__init__(bearer(api_key), unauthorized=error, too_many=limited)
        self.events, self.subscriptions, self.max_per_page = events, subscriptions or [], max_per_page

    def route(self, path: str, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(path)
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        if parts.path == "/events":
            return 200, self._page(parts.path, self.events, "event_id", query)
        if parts.path == "/subscriptions":
            return 200, self._page(parts.path, self.subscriptions, "id", query)
        return 404, {"error": {"type": "request_error", "code": "not_found"}, "meta": {"request_id": "r"}}

    def _page(self, path: str, items: list[dict[str, Any]], key: str, query: dict[str, str]) -> dict[str, Any]:
        descending = query.get("order_by", "id[ASC]") == "id[DESC]"
        ordered = sorted(items, key=lambda item: item[key], reverse=descending)
        after = query.get("after")
        if after:
            ordered = [item for item in ordered if (item[key] < after if descending else item[key] > after)]
        size = min(int(query.get("per_page", "50")), self.max_per_page)
        page, more = ordered[:size], len(ordered) > size
        following = {**query, "after": page[-1][key]} if page else query
        return {"data": page, "meta": {"request_id": "r", "pagination": {
            "per_page": size, "has_more": more, "estimated_total": len(items),
            "next": f"{self.base}{path}?{urlencode(following)}"}}}
