"""A fake Recurly API v3 on loopback: subscriptions (by id or `uuid-`), accounts, plans, and the paged list.

It checks what Recurly checks — Basic auth with the key as username and an empty password (else 401) and the
versioned `Accept` header (else 406) — and pages `GET /subscriptions` with `has_more` and a `next` path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from bridge.providers.recurly.api import ACCEPT
from tests.fakes.provider_api import FakeProviderApi, basic


class FakeRecurly(FakeProviderApi):
    """Serves the given subscriptions, accounts and plans until closed."""

    def __init__(self, api_key: str, subscriptions: list[dict[str, Any]], accounts: list[dict[str, Any]],
                 plans: list[dict[str, Any]]):
        super().__init__(basic(api_key, ""),
                         unauthorized={"error": {"type": "unauthorized", "message": "Invalid API key"}})
        self.subscriptions, self.accounts, self.plans = subscriptions, accounts, plans

    def route(self, path: str, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        if headers.get("accept", "") != ACCEPT:
            return 406, {"error": {"type": "invalid_api_version"}}
        parts = urlsplit(path)
        if parts.path == "/subscriptions":
            return 200, self._page(parse_qs(parts.query))
        kind, _, reference = parts.path.strip("/").partition("/")
        table = {"subscriptions": self.subscriptions, "accounts": self.accounts, "plans": self.plans}.get(kind, [])
        found = next((item for item in table if _matches(item, unquote(reference))), None)
        return (200, found) if found else (404, {"error": {"type": "not_found"}})

    def _page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = int(query.get("limit", ["20"])[0])
        start = int(query.get("cursor", ["0"])[0])
        more = start + limit < len(self.subscriptions)
        return {"object": "list", "has_more": more, "data": self.subscriptions[start:start + limit],
                "next": f"/subscriptions?cursor={start + limit}&limit={limit}" if more else None}


def _matches(item: dict[str, Any], reference: str) -> bool:
    if reference.startswith("uuid-"):
        return bool(item.get("uuid") == reference.removeprefix("uuid-"))
    if reference.startswith("code-"):
        return bool(item.get("code") == reference.removeprefix("code-"))
    return bool(item.get("id") == reference)
