"""A fake Polar API on loopback: `GET /v1/subscriptions/`, paged by page number as Polar pages it.

It checks the bearer token, answers 401 with Polar's error shape for any other, and can be told to answer 429 with
`Retry-After` first. Pages are numbered from 1, `limit` is at most 100 (`max_limit` lowers it, so a few
subscriptions fill several pages), subscriptions are ordered by `started_at` (`sorting=started_at`, `-started_at`
for newest first), and each answer carries `pagination.total_count` and `pagination.max_page`, as Polar's list
endpoints answer (server `polar/kit/pagination.py`; docs/providers/polar.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.provider_api import FakeProviderApi, bearer

MAX_LIMIT = 100


class FakePolar(FakeProviderApi):
    """Serves given subscriptions until closed."""

    def __init__(self, api_key: str, subscriptions: list[dict[str, Any]], max_limit: int = MAX_LIMIT):
        super().__init__(bearer(api_key), unauthorized={"error": "invalid_token", "error_description": "unauthorized"},
                         too_many={"error": "TooManyRequests", "detail": "rate limited"})
        self.subscriptions, self.max_limit = subscriptions, max_limit

    def route(self, path: str, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(path)
        if parts.path != "/v1/subscriptions/":
            return 404, {"error": "ResourceNotFound", "detail": "Not found"}
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        sorting = query.get("sorting", "-started_at")
        ordered = sorted(self.subscriptions, key=lambda item: (item["started_at"], item["id"]),
                         reverse=sorting.startswith("-"))
        limit = max(1, min(int(query.get("limit", "10")), self.max_limit))
        page = max(1, int(query.get("page", "1")))
        items = ordered[(page - 1) * limit:page * limit]
        return 200, {"items": items, "pagination": {"total_count": len(ordered),
                                                     "max_page": math.ceil(len(ordered) / limit)}}
