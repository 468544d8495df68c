"""Stripe's list API behind the `SubscriptionSource` protocol: every subscription, page by page, in a budget."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from bridge.providers.stripe.api import StripeApi, api_version

LIST_PARAMS = {"status": "all", "expand": ["data.customer"]}  # canceled ones too; customers for identity


class StripeSource:
    """`GET /v1/subscriptions` in the version the bridge knows best, within STRIPE_REQUESTS_PER_SECOND."""

    def __init__(self, api: StripeApi):
        self.api = api

    @property
    def requests(self) -> int:
        """Requests made so far, for the sync's report."""
        return self.api.requests

    def subscriptions(self, cursor: str | None = None) -> Iterator[tuple[list[Mapping[str, Any]], str | None]]:
        """Pages after subscription `cursor`; each page's cursor is its last subscription, None after the last."""
        for page in self.api.pages(self._list, LIST_PARAMS, cursor):
            items: list[Mapping[str, Any]] = list(page.items)
            yield items, str(page.items[-1]["id"]) if page.has_more else None

    def _list(self, query: dict[str, Any]) -> Any:
        options = {"stripe_version": api_version()}  # the shape the payload's api_version states
        return self.api.client.v1.subscriptions.list(params=query, options=options)  # type: ignore[arg-type]
