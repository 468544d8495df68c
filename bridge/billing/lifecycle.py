"""Subscription lifecycle: the track events one change of a subscription implies, for every provider (pure).

An event's neutral kind (`bridge.billing.kinds`) says whether a subscription was created, canceled or updated; an
update is a pair of model subscriptions: `before` — as the event itself says it was (its previous
attributes), else the stored previous snapshot — and `after`, this event's. An update with nothing to
compare with implies nothing. A provider whose events say what changed (`Facts.before`) is believed on plan
changes: compared with the stored snapshot instead, an update that does not say its items changed implies no
upgrade or downgrade (a snapshot may be older than the change that moved the price). Names are the track event
names of mappings/billing.yaml.
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


def changes(kind: str, before: Subscription | None, after: Subscription, plans: bool = True) -> list[str]:
    """The lifecycle track events of an event of neutral `kind` (bridge.billing.kinds), in a fixed order; no
    upgrade or downgrade unless `plans`."""
    if kind == "subscription.created":
        return [] if after.status == "incomplete" else [CREATED]
    if kind == "subscription.canceled":
        return [CANCELED]
    if kind != "subscription.updated" or before is None:
        return []
    found = [STATUS_CHANGES.get((str(before.status), str(after.status))), plan_change(before, after) if plans else None]
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
