"""Subscription lifecycle: the track events one change of a subscription implies, for every provider (pure).

A change is a pair of model subscriptions: `before` — as the event itself says it was (Stripe's
`previous_attributes`), else the stored previous snapshot — and `after`, this event's. With no `before` the
subscription is new to the bridge. Names are the track event names of mappings/billing.yaml.
"""

from __future__ import annotations

from decimal import Decimal

from bridge.billing import mrr
from bridge.billing.model import Subscription

CREATED, CANCELED = "Subscription Created", "Subscription Canceled"
STATUS_CHANGES = {
    ("incomplete", "active"): "Subscription Activated",
    ("trialing", "active"): "Trial Converted",
    ("past_due", "active"): "Payment Recovered",
    ("unpaid", "active"): "Payment Recovered",
}
NAMES = (CREATED, *dict.fromkeys(STATUS_CHANGES.values()), "Subscription Upgraded", "Subscription Downgraded",
         "Subscription Cancellation Scheduled", "Subscription Cancellation Revoked", "Subscription Paused",
         "Subscription Resumed", CANCELED)


def scheduled(subscription: Subscription) -> bool:
    """Whether a cancellation is scheduled (at a date, or at the period's end)."""
    return subscription.cancels_at is not None or bool(subscription.cancel_at_period_end)


def plan_change(before: Subscription, after: Subscription) -> str | None:
    """Upgraded / Downgraded when list MRR moved (both known); a status change alone never moves it."""
    old, new = mrr.list_mrr(before).amount, mrr.list_mrr(after).amount
    if old is None or new is None or old == new:
        return None
    return "Subscription Upgraded" if new > old else "Subscription Downgraded"


def _pause_change(before: Subscription, after: Subscription) -> str | None:
    if after.paused and not before.paused:
        return "Subscription Paused"
    if before.paused and not after.paused and after.status != "canceled":
        return "Subscription Resumed"
    return None


def changes(before: Subscription | None, after: Subscription) -> list[str]:
    """The lifecycle track events from `before` to `after`, in a fixed order."""
    if before is None:
        if after.status == "canceled":
            return [CANCELED]
        return [] if after.status == "incomplete" else [CREATED]
    if after.status == "canceled":
        return [CANCELED] if before.status != "canceled" else []
    found = [STATUS_CHANGES.get((str(before.status), str(after.status))), plan_change(before, after)]
    if scheduled(after) != scheduled(before):
        found.append("Subscription Cancellation Scheduled" if scheduled(after)
                     else "Subscription Cancellation Revoked")
    found.append(_pause_change(before, after))
    return [name for name in found if name]


def interval_changed(before: Subscription | None, after: Subscription) -> bool:
    """Whether the main line's billing interval differs from before."""
    if before is None:
        return False
    old, new = mrr.main_item(before), mrr.main_item(after)
    return (old.interval if old else None) != (new.interval if new else None)


def mrr_lost(before: Subscription | None, after: Subscription) -> Decimal | None:
    """What a canceled subscription contributed to MRR just before: its previous state's MRR when known."""
    if before is not None:
        return mrr.mrr(before).amount
    if after.trial_end is not None and after.canceled_at is not None and after.trial_end >= after.canceled_at:
        return Decimal(0)  # canceled during its trial
    return mrr.list_mrr(after).amount
