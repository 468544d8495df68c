"""A fake Chargebee API on loopback: `GET /api/v2/subscriptions` (offset paging) and `GET /api/v2/events/{id}`.

It checks the API key the way Chargebee does (Basic, the key as username, empty password), answers 401 for any
other, and can be told to answer 429 with `Retry-After` a number of times first. End-to-end tests can reuse it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.provider_api import FakeProviderApi, basic


class FakeChargebee(FakeProviderApi):
    """Serves given subscriptions (list entries) and events until closed."""

    base_path = "/api/v2"

    def __init__(self, api_key: str, entries: list[dict[str, Any]], events: dict[str, dict[str, Any]]):
        super().__init__(
            basic(api_key, ""), unauthorized={"api_error_code": "api_authentication_failed", "http_status_code": 401},
            too_many={"api_error_code": "api_request_limit_exceeded", "http_status_code": 429})
        self.entries, self.events = entries, events

    def route(self, path: str, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(path)
        if parts.path == "/api/v2/subscriptions":
            return 200, self._page(parse_qs(parts.query))
        if parts.path.startswith("/api/v2/events/"):
            event = self.events.get(unquote(parts.path.removeprefix("/api/v2/events/")))
            if event is None:
                return 404, {"api_error_code": "resource_not_found", "http_status_code": 404}
            return 200, {"event": event}
        return 404, {"api_error_code": "resource_not_found", "http_status_code": 404}

    def _page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = int(query.get("limit", ["10"])[0])
        start = int(query.get("offset", ["0"])[0])
        page: dict[str, Any] = {"list": self.entries[start:start + limit]}
        if start + limit < len(self.entries):
            page["next_offset"] = str(start + limit)
        return page
