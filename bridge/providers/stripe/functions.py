"""Stripe's own expression functions over its payloads, kept so that admins' existing overlays keep working.

Each has a neutral replacement over the billing model that works for every provider (`REPLACEMENTS`), which
`bridge check` names wherever an overlay calls one. All are None-safe: a None argument gives None.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bridge.providers.stripe import billing, lifecycle


def stripe_mrr(subscription: Any) -> float | None:
    """MRR in major units: 0 unless active or past due, None when a price is tiered."""
    return billing.subscription_mrr(subscription) if subscription else None


def stripe_list_mrr(subscription: Any) -> float | None:
    """MRR in major units whatever the status."""
    return billing.list_mrr(subscription) if subscription else None


def stripe_plan(subscription: Any) -> str | None:
    """The main item's plan name."""
    return billing.plan_name(subscription) if subscription else None


def stripe_seats(subscription: Any) -> int | None:
    """The main item's quantity."""
    return billing.seats(subscription) if subscription else None


def stripe_interval(subscription: Any) -> str | None:
    """The main item's billing interval."""
    return billing.interval(subscription) if subscription else None


def stripe_period_end(subscription: Any) -> int | None:
    """The current period end (unix seconds) in either API shape."""
    return billing.period_end(subscription) if subscription else None


def stripe_invoice_subscription(invoice: Any) -> str | None:
    """The subscription id of an invoice in either API shape."""
    return billing.subscription_of_invoice(invoice) if invoice else None


def stripe_transitions(event_type: Any, subscription: Any, previous: Any = None, prior: Any = None) -> list[str]:
    """The lifecycle track event names a subscription event implies."""
    if not subscription or not isinstance(event_type, str):
        return []
    return lifecycle.transitions(event_type, subscription, previous or {}, prior or None)


def stripe_before(subscription: Any, previous: Any = None, prior: Any = None) -> Any:
    """The subscription as it was before this event (previous attributes over it, else the prior snapshot)."""
    return lifecycle.before(subscription, previous or {}, prior or None) if subscription else None


def stripe_interval_changed(subscription: Any, previous: Any = None) -> bool | None:
    """Whether the main billing interval changed in this event."""
    return lifecycle.interval_changed(subscription, previous or {}) if subscription else None


def stripe_mrr_lost(subscription: Any, prior: Any = None) -> float | None:
    """What a deleted subscription contributed to MRR just before its deletion."""
    return lifecycle.mrr_lost(subscription, prior or None) if subscription else None


def stripe_refund_amount(charge: Any, previous: Any = None) -> int | None:
    """The amount (minor units) of the refund a `charge.refunded` event is about."""
    return billing.refund_amount(charge, previous or {}) if charge else None


def stripe_cancels_at(subscription: Any) -> int | None:
    """When a scheduled cancellation takes effect (unix seconds), or None."""
    return billing.cancels_at(subscription) if subscription else None


def stripe_collection_paused(subscription: Any) -> bool | None:
    """Whether the subscription is paused or its collection is."""
    return billing.collection_paused(subscription) if subscription else None


def stripe_price_metadata(subscription: Any, key: Any) -> Any:
    """A metadata value of the main item's price, e.g. `pendo_plan`."""
    if not subscription:
        return None
    metadata = billing.main_price(subscription).get("metadata")
    return metadata.get(key) if isinstance(metadata, Mapping) else None


def stripe_lookup_key(subscription: Any) -> str | None:
    """The main item's price lookup key."""
    found = billing.main_price(subscription).get("lookup_key") if subscription else None
    return found if isinstance(found, str) and found else None


FUNCTIONS: dict[str, Callable[..., Any]] = {function.__name__: function for function in (
    stripe_mrr, stripe_list_mrr, stripe_plan, stripe_seats, stripe_interval, stripe_period_end,
    stripe_invoice_subscription, stripe_transitions, stripe_interval_changed, stripe_mrr_lost, stripe_refund_amount,
    stripe_cancels_at, stripe_collection_paused, stripe_price_metadata, stripe_lookup_key, stripe_before,
)}
# What each function's result is, for the Pendo field types `bridge check --pendo` expects.
TYPES = {"stripe_mrr": "number", "stripe_list_mrr": "number", "stripe_seats": "number", "stripe_plan": "text",
         "stripe_interval": "text", "stripe_invoice_subscription": "text"}
REPLACEMENTS = {
    "stripe_mrr": "facts.subscription.mrr (account.subscription.mrr for the account's primary subscription)",
    "stripe_list_mrr": "facts.subscription.list_mrr",
    "stripe_plan": "facts.subscription.plan",
    "stripe_seats": "facts.subscription.seats",
    "stripe_interval": "facts.subscription.interval",
    "stripe_period_end": "facts.subscription.period_end",
    "stripe_invoice_subscription": "facts.payment.subscription_id",
    "stripe_transitions": "lifecycle.events",
    "stripe_before": "before",
    "stripe_interval_changed": "lifecycle.interval_changed",
    "stripe_mrr_lost": "lifecycle.mrr_lost",
    "stripe_refund_amount": "facts.payment.amount (already in major units)",
    "stripe_cancels_at": "facts.subscription.cancels_at",
    "stripe_collection_paused": "facts.subscription.paused",
    "stripe_price_metadata": "facts.subscription.price_metadata[key]",
    "stripe_lookup_key": "facts.subscription.lookup_key",
}
