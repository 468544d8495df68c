"""Enrichment before evaluation: the Stripe customer behind an event, cached in the database.

With `STRIPE_API_KEY`, a subscription's tiered prices (with their tiers) and its amount-off coupons in another
currency (with their `currency_options`) are looked up too, and cached for good.

Customers arrive in the cache from their own `customer.*` events; with `STRIPE_API_KEY` set, a customer
the cache lacks (or holds for longer than a day) is fetched, within a small request budget of its own,
since Stripe's rate limits are shared with the user's own application. A dispute names only its charge: the
charge is fetched (and cached) the same way to learn its customer.

Objects from the client are kept as JSON (`to_dict(for_json=True)`): since stripe 15 a plain `to_dict()` turns
decimal strings such as a price's `unit_amount_decimal` into `decimal.Decimal`, which the cache cannot store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import stripe

from bridge.errors import EnrichmentUnavailable
from bridge.providers import Event
from bridge.providers.stripe import billing as stripe_billing
from bridge.store.store import Store

PROVIDER = "stripe"  # the key of its objects in the cache

__all__ = ["Enricher", "EnrichmentUnavailable", "RateBudget", "stripe_client"]
CACHE_SECONDS = 24 * 3600
CHARGE_OBJECTS = ("dispute",)  # objects that name their charge but not its customer


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
        self._claim: tuple[int, str] | None = None

    @contextmanager
    def claimed(self, row_id: int, worker: str) -> Iterator[None]:
        """Cache what the enclosed look-ups find only while `worker` still holds event row `row_id`: a customer
        purged meanwhile (which releases the claim) is not cached again."""
        self._claim = (row_id, worker)
        try:
            yield
        finally:
            self._claim = None

    def _cache(self, object_id: str, payload: dict[str, Any]) -> None:
        self._store.cache_object(PROVIDER, object_id, payload, self._clock(), claim=self._claim)

    def remember(self, event: Event) -> None:
        """Refresh the cache from events that carry a whole customer."""
        obj = event.payload.get("data", {}).get("object", {})
        if event.type.startswith("customer.") and obj.get("object") == "customer" and obj.get("id"):
            if event.type != "customer.deleted":
                self._cache(obj["id"], obj)

    def enrich(self, event: Event, fetch: bool = True) -> dict[str, Any]:
        """The enrichment dict for evaluation: {"customer": {...}} when known (and {"charge": {...}} for an object
        that names only its charge); `fetch=False` reads only the cache."""
        if event.type.startswith("customer.") and _is_customer(event):
            return {}
        fetch = fetch and self._client is not None
        charge = self._charge(event, fetch)
        found: dict[str, Any] = {"charge": charge} if charge else {}
        customer_id = event.customer_id or stripe_billing.enriched_customer_id(found)
        customer = self._object("customer", customer_id, fetch, event.connect_account) if customer_id else None
        if customer:
            found["customer"] = customer
        prices = self._prices(event, fetch)
        found = {**found, "prices": prices} if prices else found
        coupons = self._coupons(event, customer, fetch)
        found = {**found, "coupons": coupons} if coupons else found
        products = self._products(event, fetch)
        return {**found, "products": products} if products else found

    def _products(self, event: Event, fetch: bool) -> dict[str, Any]:
        """The products of prices with no name of their own (no nickname, no lookup key), for the plan name;
        cached for a day like customers, since a product can be renamed."""
        obj = event.payload.get("data", {}).get("object", {})
        if not event.type.startswith("customer.subscription.") or not isinstance(obj, dict):
            return {}
        found = {}
        for product_id in stripe_billing.unnamed_product_ids(obj):
            product = self._object("product", product_id, fetch, event.connect_account)
            if product:
                found[product_id] = product
        return found

    def _coupons(self, event: Event, customer: dict[str, Any] | None, fetch: bool) -> dict[str, Any]:
        """Amount-off coupons in another currency than their subscription's, with their `currency_options` (the
        amount in each other currency, given only with `expand[]=currency_options`); cached for good, since a
        coupon's amounts never change."""
        obj = event.payload.get("data", {}).get("object", {})
        if not event.type.startswith("customer.subscription.") or not isinstance(obj, dict):
            return {}
        found: dict[str, Any] = {}
        for coupon_id in stripe_billing.foreign_coupon_ids(stripe_billing.with_customer(obj, customer)):
            key = f"coupon/{coupon_id}"
            cached = self._store.cached_object(PROVIDER, key)
            if cached or fetch:
                found[coupon_id] = cached[0] if cached else self._fetch_coupon(coupon_id, key, event.connect_account)
        return found

    def _fetch_coupon(self, coupon_id: str, key: str, account: str | None) -> dict[str, Any]:
        self._budget.take()
        try:
            coupon = self._client.v1.coupons.retrieve(  # type: ignore[union-attr]
                coupon_id, params={"expand": ["currency_options"]}, options=_on_behalf(account)).to_dict(for_json=True)
        except stripe.StripeError as exc:
            raise EnrichmentUnavailable(f"Stripe did not answer for a coupon: {type(exc).__name__}") from None
        self._cache(key, coupon)
        return coupon

    def _charge(self, event: Event, fetch: bool) -> dict[str, Any] | None:
        """The charge of a dispute (which has no `customer` of its own), trimmed to what identity needs."""
        obj = event.payload.get("data", {}).get("object", {})
        if event.customer_id or not isinstance(obj, dict) or obj.get("object") not in CHARGE_OBJECTS:
            return None
        charge = obj.get("charge")
        if isinstance(charge, dict):  # expanded
            return _trimmed(charge)
        if not isinstance(charge, str) or not charge:
            return None
        return self._object("charge", charge, fetch, event.connect_account)

    def _prices(self, event: Event, fetch: bool) -> dict[str, Any]:
        """A subscription's tiered prices with their tiers (`expand=["tiers"]`), for MRR; cached for good,
        since a price's amounts and tiers never change."""
        obj = event.payload.get("data", {}).get("object", {})
        if not event.type.startswith("customer.subscription.") or not isinstance(obj, dict):
            return {}
        found: dict[str, Any] = {}
        for price_id in stripe_billing.tiered_price_ids(obj):
            cached = self._store.cached_object(PROVIDER, price_id)
            if cached or fetch:
                found[price_id] = cached[0] if cached else self._fetch_price(price_id, event.connect_account)
        return found

    def _fetch_price(self, price_id: str, account: str | None) -> dict[str, Any]:
        self._budget.take()
        try:
            price = self._client.v1.prices.retrieve(  # type: ignore[union-attr]
                price_id, params={"expand": ["tiers"]}, options=_on_behalf(account)).to_dict(for_json=True)
        except stripe.StripeError as exc:
            raise EnrichmentUnavailable(f"Stripe did not answer for a price: {type(exc).__name__}") from None
        self._cache(price_id, price)
        return price

    def _object(self, kind: str, object_id: str, fetch: bool, account: str | None) -> dict[str, Any] | None:
        """A customer or charge from the cache, fetched when missing or older than a day (if `fetch`), from the
        connected `account` when the event is one of its (the `Stripe-Account` header)."""
        cached = self._store.cached_object(PROVIDER, object_id)
        if cached and (not fetch or self._clock() - cached[1] < CACHE_SECONDS):
            return cached[0]
        if not fetch:
            return None
        found = self._fetch(kind, object_id, account)
        self._cache(object_id, found)
        return found

    def _fetch(self, kind: str, object_id: str, account: str | None) -> dict[str, Any]:
        self._budget.take()
        assert self._client is not None
        options = _on_behalf(account)
        try:
            if kind == "customer":
                found = self._client.v1.customers.retrieve(object_id, options=options).to_dict(for_json=True)
            elif kind == "product":  # only what the plan name needs
                product = self._client.v1.products.retrieve(object_id, options=options).to_dict(for_json=True)
                found = {"id": product.get("id"), "object": "product", "name": product.get("name")}
            else:
                found = _trimmed(self._client.v1.charges.retrieve(object_id, options=options).to_dict(for_json=True))
        except stripe.InvalidRequestError as exc:
            if exc.http_status != 404:
                raise EnrichmentUnavailable(f"Stripe refused a {kind} look-up ({exc.http_status})") from None
            return {"id": object_id, "deleted": True}
        except stripe.StripeError as exc:
            raise EnrichmentUnavailable(f"Stripe did not answer for a {kind}: {type(exc).__name__}") from None
        return found


def _on_behalf(account: str | None) -> Any:
    """The request options of a look-up: a connected account's objects are asked for with the `Stripe-Account`
    header (https://docs.stripe.com/connect/authentication), the platform's own without it."""
    return {"stripe_account": account} if account else {}


def _trimmed(charge: dict[str, Any]) -> dict[str, Any]:
    """Only what identity needs of a charge: its billing details are personal data the cache need not hold."""
    customer = charge.get("customer")
    return {"id": charge.get("id"), "object": "charge",
            "customer": customer.get("id") if isinstance(customer, dict) else customer}


def _is_customer(event: Event) -> bool:
    return event.payload.get("data", {}).get("object", {}).get("object") == "customer"
