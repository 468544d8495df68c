"""Enrichment before evaluation: the Stripe customer behind an event, cached in the database.

Customers arrive in the cache from their own `customer.*` events; with `STRIPE_API_KEY` set, a customer
the cache lacks (or holds for longer than a day) is fetched, within a small request budget of its own,
since Stripe's rate limits are shared with the user's own application.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import stripe

from bridge import stripe_billing
from bridge.errors import BridgeError
from bridge.providers import Event
from bridge.store import Store

CACHE_SECONDS = 24 * 3600


class EnrichmentUnavailable(BridgeError):
    """Stripe could not be asked right now; the event is retried later."""


class RateBudget:
    """A token bucket: at most `rate` requests per second on average, bursts of `burst`."""

    def __init__(self, rate: float, burst: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self._rate, self._burst = rate, max(burst, 1.0)
        self._tokens, self._clock, self._sleep = self._burst, clock, sleep
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> None:
        """Wait until a request may be made."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
            self._last = now
            wait = (1.0 - self._tokens) / self._rate if self._tokens < 1.0 else 0.0
            self._tokens -= 1.0
        if wait > 0:
            self._sleep(wait)


def stripe_client(api_key: str, api_base: str) -> stripe.StripeClient:
    """The official client, pointed at `STRIPE_API_BASE`, with its own retries for network errors."""
    return stripe.StripeClient(api_key, base_addresses={"api": api_base}, max_network_retries=2)


class Enricher:
    """Looks up what rules need beyond the event itself."""

    def __init__(self, store: Store, client: stripe.StripeClient | None, budget: RateBudget,
                 clock: Callable[[], float] = time.time):
        self._store, self._client, self._budget, self._clock = store, client, budget, clock

    def remember(self, event: Event) -> None:
        """Refresh the cache from events that carry a whole customer."""
        obj = event.payload.get("data", {}).get("object", {})
        if event.type.startswith("customer.") and obj.get("object") == "customer" and obj.get("id"):
            if event.type != "customer.deleted":
                self._store.cache_object(obj["id"], obj, self._clock())

    def enrich(self, event: Event, fetch: bool = True) -> dict[str, Any]:
        """The enrichment dict for evaluation: {"customer": {...}} when known; `fetch=False` reads only the cache."""
        if not event.customer_id or (event.type.startswith("customer.") and _is_customer(event)):
            return {}
        customer = self._customer(event.customer_id, fetch and self._client is not None)
        found: dict[str, Any] = {"customer": customer} if customer else {}
        prices = self._prices(event, fetch and self._client is not None)
        return {**found, "prices": prices} if prices else found

    def _prices(self, event: Event, fetch: bool) -> dict[str, Any]:
        """A subscription's tiered prices with their tiers (`expand=["tiers"]`), for MRR; cached for good,
        since a price's amounts and tiers never change."""
        obj = event.payload.get("data", {}).get("object", {})
        if not event.type.startswith("customer.subscription.") or not isinstance(obj, dict):
            return {}
        found: dict[str, Any] = {}
        for price_id in stripe_billing.tiered_price_ids(obj):
            cached = self._store.cached_object(price_id)
            if cached or fetch:
                found[price_id] = cached[0] if cached else self._fetch_price(price_id)
        return found

    def _fetch_price(self, price_id: str) -> dict[str, Any]:
        self._budget.take()
        try:
            price = self._client.v1.prices.retrieve(  # type: ignore[union-attr]
                price_id, params={"expand": ["tiers"]}).to_dict()
        except stripe.StripeError as exc:
            raise EnrichmentUnavailable(f"Stripe did not answer for a price: {type(exc).__name__}") from None
        self._store.cache_object(price_id, price, self._clock())
        return price

    def _customer(self, customer_id: str, fetch: bool) -> dict[str, Any] | None:
        cached = self._store.cached_object(customer_id)
        if cached and (not fetch or self._clock() - cached[1] < CACHE_SECONDS):
            return cached[0]
        if not fetch:
            return None
        customer = self._fetch(customer_id)
        self._store.cache_object(customer_id, customer, self._clock())
        return customer

    def _fetch(self, customer_id: str) -> dict[str, Any]:
        self._budget.take()
        try:
            found = self._client.v1.customers.retrieve(customer_id)  # type: ignore[union-attr]
        except stripe.InvalidRequestError as exc:
            if exc.http_status != 404:
                raise EnrichmentUnavailable(f"Stripe refused a customer look-up ({exc.http_status})") from None
            return {"id": customer_id, "deleted": True}
        except stripe.StripeError as exc:
            raise EnrichmentUnavailable(f"Stripe did not answer for a customer: {type(exc).__name__}") from None
        return found.to_dict()


def _is_customer(event: Event) -> bool:
    return event.payload.get("data", {}).get("object", {}).get("object") == "customer"
