"""Account roll-up: an account's billing fields from the latest snapshots of all its subscriptions (pure).

Subscriptions are keyed by (provider, id), so one account may hold subscriptions of several providers — as it
does while it moves from one to another. `mrr` is the sum of their MRR; `status` the best by `STATUS_PRECEDENCE`;
the *primary* subscription (best status, then largest MRR, then largest list MRR, then the newest snapshot — or,
when the best-status subscriptions are in different currencies, the newest of them: amounts in different
currencies are never compared) gives plan, interval, seats, periods and cancellation fields. `mrr_mixed` says the
counted subscriptions have no one currency: `mrr` is withheld and the shipped mapping empties it in Pendo, so no
`mrr` stands beside a `billing_currency` it is not in. So during a migration the old provider's cancellation
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


def _amount_key(snapshot: Snapshot) -> tuple[Decimal, Decimal, int]:
    subscription = snapshot.subscription
    return (mrr_.mrr(subscription).amount or Decimal(0), mrr_.list_mrr(subscription).amount or Decimal(0),
            snapshot.source_time)


def _currencies(subscriptions: Iterable[Subscription]) -> set[str]:
    return {(s.currency or "").upper() for s in subscriptions}


def primary(snapshots: list[Snapshot]) -> Snapshot:
    """The primary snapshot: best status; of equals, the largest MRR (then list MRR, then newest) when they are in
    one currency, else the newest — amounts in different currencies are never compared."""
    best = max(_status_score(s.subscription) for s in snapshots)
    tied = [s for s in snapshots if _status_score(s.subscription) == best]
    if len(_currencies(s.subscription for s in tied)) > 1:
        return max(tied, key=lambda s: s.source_time)
    return max(tied, key=_amount_key)


def mixed_currencies(subscriptions: list[Subscription]) -> bool:
    """Whether the subscriptions counted in MRR are in more than one currency (so MRR has no one currency)."""
    return len(_currencies(s for s in subscriptions if s.status in mrr_.COUNTED_STATUSES)) > 1


def total_mrr(subscriptions: list[Subscription]) -> tuple[float | None, list[str]]:
    """The sum of MRR, or None with the reasons when one is unknown or the currencies differ."""
    counted = [s for s in subscriptions if s.status in mrr_.COUNTED_STATUSES]
    currencies = _currencies(counted)
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
    main = primary(found)
    subscriptions = [s.subscription for s in found]
    total, gaps = total_mrr(subscriptions)
    return {
        "id": account_id, "mrr": total, "mrr_gaps": gaps, "mrr_mixed": mixed_currencies(subscriptions),
        "status": main.subscription.status,
        "subscription": subscription_view(main.subscription), "primary": dict(main.raw),
        "subscription_ids": sorted(s.id for s in subscriptions),
        "providers": sorted({s.provider for s in subscriptions}),
        "live_subscriptions": sum(1 for s in subscriptions if s.status not in ENDED),
        "source_time": max(s.source_time for s in found), "revision": None,
    }
