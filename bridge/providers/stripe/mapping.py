"""What the mapping engine asks of Stripe beyond the billing model (pure): the payload its own rules read, the
subscription object the roll-up stores, whether an event's API version may be mapped, and the tie rank of two
events of the same second.

Found by the core as `bridge.providers.<name>.mapping`; every name here is optional for a package.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.providers import Event
from bridge.providers.stripe import billing, versions
from bridge.providers.stripe.functions import FUNCTIONS, REPLACEMENTS, TYPES

__all__ = ["FUNCTIONS", "REPLACEMENTS", "TYPES", "admit", "payload", "subscription_object", "tie_rank"]


def payload(event: Event, enrichment: Mapping[str, Any]) -> Mapping[str, Any]:
    """The event in the canonical shape of every API version, its subscription's prices looked up and its
    customer's discount laid in when the customer is known (`event`, `object` and `previous` in Stripe's own
    rules; the roll-up stores the subscription so)."""
    found = versions.normalise(event.payload)
    data = found.get("data")
    if not isinstance(data, dict):
        return found
    obj, prices = data.get("object"), enrichment.get("prices")
    if isinstance(obj, Mapping) and obj.get("object") == "subscription":
        obj = billing.with_customer(obj, enrichment.get("customer"))
        fetched = enrichment.get("coupons")
        obj = billing.with_coupons(obj, fetched if isinstance(fetched, Mapping) else {})
        products = enrichment.get("products")
        obj = billing.with_products(obj, products if isinstance(products, Mapping) else {})
        data["object"] = billing.with_prices(obj, prices if isinstance(prices, Mapping) else {})
    return found


def subscription_object(event: Event, enrichment: Mapping[str, Any]) -> dict[str, Any] | None:
    """The subscription a `customer.subscription.*` event carries, as the roll-up stores it (canonical shape,
    prices looked up); None for other events."""
    if not event.type.startswith("customer.subscription."):
        return None
    obj = _data_object(payload(event, enrichment))
    return dict(obj) if obj.get("object") == "subscription" and obj.get("id") else None


def _data_object(found: Mapping[str, Any]) -> Mapping[str, Any]:
    data = found.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    return obj if isinstance(obj, Mapping) else {}


def admit(event: Event) -> tuple[str, str | None, str | None]:
    """(map, hold or store; the warning; the API version when newer than known) for the event's API version
    (docs/billing.md, "API versions")."""
    admission = versions.admit(event.api_version, event.payload)
    return admission.action, admission.warning, event.api_version if versions.newer(event.api_version) else None


def tie_rank(event_type: str, status: str | None) -> int:
    """The rank breaking a tie between two events of the same second (docs/ordering.md)."""
    return billing.tie_rank(event_type, status)
