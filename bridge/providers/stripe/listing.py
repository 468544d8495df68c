"""Stripe's list API for `bridge sync stripe`: every subscription, page by page, within its request budget.

Besides the `SubscriptionSource` protocol it offers the sync what Stripe's snapshots need (bridge/sync/initial.py):
each subscription as the `customer.subscription.updated` event its webhooks would carry, with the customer the
list expanded (cached for identity), and the number of requests made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from bridge.providers import Event
from bridge.providers.stripe.api import StripeApi, api_version
from bridge.providers.stripe.webhook import customer_of
from bridge.sync.initial import Snapshot

EVENT_TYPE = "customer.subscription.updated"
LIST_PARAMS = {"status": "all", "expand": ["data.customer"]}  # canceled ones too; customers for identity


class StripeSource:
    """`GET /v1/subscriptions` in the version the bridge knows best, within STRIPE_REQUESTS_PER_SECOND."""

    def __init__(self, api: StripeApi):
        self.api = api

    @property
    def requests(self) -> int:
        """Requests made so far, for the sync's report."""
        return self.api.requests

    @property
    def sleep(self) -> Callable[[float], None]:
        return self.api.sleep

    @sleep.setter
    def sleep(self, wait: Callable[[float], None]) -> None:
        """How a rate limit is waited out (a reconcile's wait ends at a stop)."""
        self.api.sleep = wait

    def subscriptions(self, cursor: str | None = None) -> Iterator[tuple[list[Mapping[str, Any]], str | None]]:
        """Pages after subscription `cursor`; each page's cursor is its last subscription, None after the last."""
        for page in self.api.pages(self._list, LIST_PARAMS, cursor):
            items: list[Mapping[str, Any]] = list(page.items)
            yield items, str(page.items[-1]["id"]) if page.has_more else None

    def _list(self, query: dict[str, Any]) -> Any:
        options = {"stripe_version": api_version()}  # the shape the payload's api_version states
        return self.api.client.v1.subscriptions.list(params=query, options=options)  # type: ignore[arg-type]

    def snapshot(self, raw: Mapping[str, Any], run_id: str, asked_at: float) -> Snapshot:
        """The synthetic event for one listed subscription, with its expanded customer (to cache)."""
        customer = raw.get("customer")
        expanded = customer if isinstance(customer, dict) else None
        obj = {**raw, "customer": expanded.get("id")} if expanded else dict(raw)  # the shape webhooks carry
        created = int(asked_at)  # whole seconds like Stripe's events; a same-second tie goes to the tie ranks
        event_id = f"sync_{run_id}_{raw['id']}"
        version = api_version()
        livemode = raw.get("livemode")
        payload = {"id": event_id, "object": "event", "type": EVENT_TYPE, "created": created, "livemode": livemode,
                   "api_version": version, "data": {"object": obj}, "bridge_sync": True}
        event = Event(provider="stripe", id=event_id, type=EVENT_TYPE, created=float(created),
                      livemode=livemode if isinstance(livemode, bool) else None, api_version=version,
                      connect_account=None, customer_id=customer_of(obj), payload=payload)
        if expanded and expanded.get("id"):
            return Snapshot(event, {"customer": expanded}, {str(expanded["id"]): expanded})
        return Snapshot(event)
