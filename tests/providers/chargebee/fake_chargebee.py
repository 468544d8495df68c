"""A fake Chargebee API on loopback: `GET /api/v2/subscriptions` and `GET /api/v2/events` (offset paging; events
filtered by `occurred_at[after]` and `webhook_status[in]`, sorted by `sort_by[asc|desc]=occurred_at`), and
`GET /api/v2/events/{id}`.

It checks the API key the way Chargebee does (Basic, the key as username, empty password), answers 401 for any
other, and can be told to answer 429 with `Retry-After` a number of times first. End-to-end tests can reuse it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.provider_api import FakeProviderApi, basic


class FakeChargebee(FakeProviderApi):
    """Serves given subscriptions (list entries) and events until closed."""

    base_path = "/api/v2"

    def __init__(self, api_key: str, entries: list[dict[str, Any]], events: dict[str, dict[str, Any]],
                 max_limit: int = 100):
        """`max_limit` lowers Chargebee's largest page (100), so a few subscriptions fill several pages."""
        super().__init__(
            basic(api_key, ""), unauthorized={"api_error_code": "api_authentication_failed", "http_status_code": 401},
            too_many={"api_error_code": "api_request_limit_exceeded", "http_status_code": 429})
        self.entries, self.events, self.max_limit = entries, events, max_limit

    def route(self, path: str, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(path)
        if parts.path == "/api/v2/subscriptions":
            return 200, self._page(parse_qs(parts.query))
        if parts.path == "/api/v2/events":
            return 200, self._events(parse_qs(parts.query))
        if parts.path.startswith("/api/v2/events/"):
            event = self.events.get(unquote(parts.path.removeprefix("/api/v2/events/")))
            if event is None:
                return 404, {"api_error_code": "resource_not_found", "http_status_code": 404}
            return 200, {"event": event}
        return 404, {"api_error_code": "resource_not_found", "http_status_code": 404}

    def _page(self, query: dict[str, list[str]], entries: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        entries = self.entries if entries is None else entries
        limit = min(int(query.get("limit", ["10"])[0]), self.max_limit)
        start = int(query.get("offset", ["0"])[0])
        page: dict[str, Any] = {"list": entries[start:start + limit]}
        if start + limit < len(entries):
            page["next_offset"] = str(start + limit)
        return page

    def _events(self, query: dict[str, list[str]]) -> dict[str, Any]:
        found = list(self.events.values())
        if "occurred_at[after]" in query:
            after = int(query["occurred_at[after]"][0])
            found = [event for event in found if event["occurred_at"] > after]
        if "webhook_status[in]" in query:
            statuses = json.loads(query["webhook_status[in]"][0])
            found = [event for event in found if event.get("webhook_status") in statuses]
        descending = query.get("sort_by[desc]") == ["occurred_at"]
        found.sort(key=lambda event: (event["occurred_at"], event["id"]), reverse=descending)
        return self._page(query, [{"event": event} for event in found])
