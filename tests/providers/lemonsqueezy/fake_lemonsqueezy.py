"""A fake Lemon Squeezy API on loopback: `GET /v1/prices/{id}`, `/v1/stores/{id}` and the paged subscription list.

It checks the bearer key (else 401) and answers JSON:API documents, with `meta.page` on the list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.provider_api import FakeProviderApi, bearer


class FakeLemonSqueezy(FakeProviderApi):
    """Serves the given resources (JSON:API `data` objects, by type) until closed."""

    content_type = "application/vnd.api+json"

    def __init__(self, api_key: str, resources: list[dict[str, Any]]):
        super().__init__(bearer(api_key), unauthorized={"errors": [{"status": "401", "title": "Unauthenticated."}]})
        self.resources = resources

    def route(self, path: str, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(path)
        kind, _, resource_id = parts.path.removeprefix("/v1/").partition("/")
        if kind == "subscriptions" and not resource_id:
            return 200, self._page(parse_qs(parts.query))
        found = next((item for item in self.resources if item["type"] == kind and item["id"] == resource_id), None)
        return (200, {"jsonapi": {"version": "1.0"}, "data": found}) if found else \
            (404, {"errors": [{"status": "404", "title": "Not Found"}]})

    def _page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        size, number = int(query["page[size]"][0]), int(query["page[number]"][0])
        listed = [item for item in self.resources if item["type"] == "subscriptions"]
        last = max(1, -(-len(listed) // size))
        return {"meta": {"page": {"currentPage": number, "lastPage": last, "perPage": size, "total": len(listed)}},
                "data": listed[(number - 1) * size:number * size]}
