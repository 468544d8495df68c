"""Stripe's lifecycle transitions over its own payloads (pure): what `stripe_transitions()` gives overlays.

What changed comes from the event's `previous_attributes`; when an event has none (a deletion), from the
subscription's previous snapshot (`prior`). Names are the track event names of the shipped mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.providers.stripe import billing as stripe_billing

Payload = Mapping[str, Any]

STATUS_TRANSITIONS = {
    ("incomplete", "active"): "Subscription Activated",
    ("trialing", "active"): "Trial Converted",
    ("past_due", "active"): "Payment Recovered",
    ("unpaid", "active"): "Payment Recovered",
}
PLAN_FIELDS = ("items", "quantity", "discount", "discounts", "plan")


def before(subscription: Payload, previous: Payload, prior: Payload | None = None) -> Payload | None:
    """The subscription as it was before this event: its previous attributes over it, else the prior snapshot."""
    if previous:
        return {**subscription, **previous}
    return prior or None


def _scheduled(subscription: Payload) -> bool:
    return bool(subscription.get("cancel_at") or subscription.get("cancel_at_period_end"))


def _plan_change(subscription: Payload, previous: Payload) -> str | None:
    """Upgraded / Downgraded when items, quantities or discounts changed and list MRR moved."""
    if not any(key in previous for key in PLAN_FIELDS):
        return None
    old, new = stripe_billing.list_mrr({**subscription, **previous}), stripe_billing.list_mrr(subscription)
    if old is None or new is None or old == new:
        return None
    return "Subscription Upgraded" if new > old else "Subscription Downgraded"


def _pause_change(subscription: Payload, old: Payload) -> str | None:
    paused, was_paused = stripe_billing.collection_paused(subscription), stripe_billing.collection_paused(old)
    if paused and not was_paused:
        return "Subscription Paused"
    if was_paused and not paused and subscription.get("status") != "canceled":
        return "Subscription Resumed"
    return None


def transitions(event_type: str, subscription: Payload, previous: Payload,
                prior: Payload | None = None) -> list[str]:
    """The lifecycle track events this subscription event implies, in a fixed order."""
    if event_type == "customer.subscription.created":
        return [] if subscription.get("status") in ("incomplete", "incomplete_expired") else ["Subscription Created"]
    if event_type == "customer.subscription.deleted":
        return ["Subscription Canceled"]
    old = before(subscription, previous, prior)
    if event_type != "customer.subscription.updated" or old is None:
        return []
    found = [STATUS_TRANSITIONS.get((str(old.get("status")), str(subscription.get("status"))))]
    found.append(_plan_change(subscription, previous))
    if _scheduled(subscription) != _scheduled(old):
        found.append("Subscription Cancellation Scheduled" if _scheduled(subscription)
                     else "Subscription Cancellation Revoked")
    found.append(_pause_change(subscription, old))
    return [name for name in found if name]


def interval_changed(subscription: Payload, previous: Payload) -> bool:
    """Whether the main item's billing interval differs from before the event."""
    if "items" not in previous and "plan" not in previous:
        return False
    return stripe_billing.interval({**subscription, **previous}) != stripe_billing.interval(subscription)


def mrr_lost(subscription: Payload, prior: Payload | None = None) -> float | None:
    """What a deleted subscription contributed to MRR just before: its prior snapshot's MRR when known."""
    if prior:
        return stripe_billing.subscription_mrr(prior)
    ended, trial_end = subscription.get("ended_at") or subscription.get("canceled_at"), subscription.get("trial_end")
    if isinstance(trial_end, int) and isinstance(ended, int) and trial_end >= ended:
        return 0.0  # canceled during its trial
    return stripe_billing.list_mrr(subscription)
