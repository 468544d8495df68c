"""Account roll-up: an account's billing fields from the latest snapshots of all its subscriptions (pure).

Subscriptions are keyed by (provider, id), so one account may hold subscriptions of several providers — as it
does while it moves from one to another. `mrr` is the sum of their MRR; `status` the best by `STATUS_PRECEDENCE`;
the *primary* subscription (best status, then largest MRR, then largest list MRR, then the newest snapshot) gives
plan, interval, seats, periods and cancellation fields. So during a migration the old provider's cancellation
never blanks the new provider's plan: a live subscription always outranks a canceled one, whichever provider
wrote last. See docs/billing.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bridge.billing import mrr as mrr_
from bridge.billing.model import Subscription
from bridge.billing.view import subscription_view
from bridge.providers.registry import find

# Best first: an account with one active and one canceled subscription is active.
STATUS_PRECEDENCE = ("active", "past_due", "trialing", "paused", "unpaid", "incomplete", "canceled")
ENDED = frozenset({"canceled"})
RANK_BASE = 1000  # roll-up ranks sit above every event tie rank (docs/ordering.md)


@dataclass(frozen=True)
class Snapshot:
    """A subscription's latest known state, with when it was true and the provider's own object for overlays."""

    subscription: Subscription
    source_time: int  # ms
    raw: Mapping[str, Any] = field(default_factory=dict)


def snapshot(provider: str, raw: Mapping[str, Any], source_time: int) -> Snapshot | None:
    """A stored provider object in the model's terms, through its provider's package; None when it is not one."""
    found = find(provider)
    subscription = found.subscription(raw) if found is not None else None
    return Snapshot(subscription, source_time, raw) if subscription is not None else None


def _status_score(subscription: Subscription) -> int:
    status = subscription.status
    return len(STATUS_PRECEDENCE) - STATUS_PRECEDENCE.index(status) if status in STATUS_PRECEDENCE else 0


def _primary_key(snapshot: Snapshot) -> tuple[int, Decimal, Decimal, int]:
    subscription = snapshot.subscription
    return (_status_score(subscription), mrr_.mrr(subscription).amount or Decimal(0),
            mrr_.list_mrr(subscription).amount or Decimal(0), snapshot.source_time)


def total_mrr(subscriptions: list[Subscription]) -> tuple[float | None, list[str]]:
    """The sum of MRR, or None with the reasons when one is unknown or the currencies differ."""
    counted = [s for s in subscriptions if s.status in mrr_.COUNTED_STATUSES]
    currencies = {(s.currency or "").upper() for s in counted}
    if len(currencies) > 1:
        return None, [f"subscriptions in several currencies ({', '.join(sorted(currencies))}): mrr not summed"]
    found = [mrr_.mrr(s) for s in counted]
    if any(monthly.amount is None for monthly in found):
        return None, [gap for monthly in found for gap in monthly.gaps] or ["mrr unknown"]
    return float(sum((monthly.amount or Decimal(0) for monthly in found), Decimal(0))), []


def account(snapshots: Iterable[Snapshot], account_id: str | None = None) -> dict[str, Any]:
    """The roll-up of an account's snapshots: the `account` context variable (docs/mappings.md)."""
    found = list(snapshots)
    if not found:
        return {}
    primary = max(found, key=_primary_key)
    subscriptions = [s.subscription for s in found]
    total, gaps = total_mrr(subscriptions)
    return {
        "id": account_id, "mrr": total, "mrr_gaps": gaps, "status": primary.subscription.status,
        "subscription": subscription_view(primary.subscription), "primary": dict(primary.raw),
        "subscription_ids": sorted(s.id for s in subscriptions),
        "providers": sorted({s.provider for s in subscriptions}),
        "live_subscriptions": sum(1 for s in subscriptions if s.status not in ENDED),
        "source_time": max(s.source_time for s in found), "revision": None,
    }
