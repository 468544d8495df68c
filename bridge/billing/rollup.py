"""Account roll-up: an account's billing fields derived from all its subscriptions' latest snapshots (pure).

`mrr` is the sum of the subscriptions' MRR; `status` the best by `STATUS_PRECEDENCE`; the *primary*
subscription (best status, then largest MRR, then largest list MRR, then newest) gives plan, interval,
seats, periods and cancellation fields. See docs/billing.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bridge.billing import money
from bridge.providers.stripe import billing as stripe_billing

# Best first: an account with one active and one canceled subscription is active.
STATUS_PRECEDENCE = (
    "active", "past_due", "trialing", "paused", "unpaid", "incomplete", "canceled", "incomplete_expired",
)
RANK_BASE = 1000  # roll-up ranks sit above every event tie rank (docs/ordering.md)


def _status_score(subscription: Mapping[str, Any]) -> int:
    status = subscription.get("status")
    return len(STATUS_PRECEDENCE) - STATUS_PRECEDENCE.index(status) if status in STATUS_PRECEDENCE else 0


def _primary_key(snapshot: Mapping[str, Any]) -> tuple[int, float, float, int]:
    payload = snapshot["payload"]
    return (_status_score(payload), stripe_billing.subscription_mrr(payload) or 0.0,
            stripe_billing.list_mrr(payload) or 0.0, int(snapshot.get("source_time") or 0))


def _mrr(subscriptions: list[Mapping[str, Any]]) -> tuple[float | None, list[str]]:
    """The sum of MRR, or None with the reason when one is unknown or the currencies differ."""
    contributing = [s for s in subscriptions if s.get("status") in stripe_billing.MRR_STATUSES]
    currencies = {str(s.get("currency") or "").lower() for s in contributing}
    if len(currencies) > 1:
        return None, [f"subscriptions in several currencies ({', '.join(sorted(currencies))}): mrr not summed"]
    amounts = [stripe_billing.subscription_mrr(s) for s in contributing]
    if any(amount is None for amount in amounts):
        gaps = [gap for s in contributing for gap in stripe_billing.mrr_gaps(s)]
        return None, gaps or ["mrr unknown"]
    return money.round_half_up(sum(amount or 0.0 for amount in amounts)), []


def account(snapshots: Iterable[Mapping[str, Any]], account_id: str | None = None) -> dict[str, Any]:
    """The roll-up of snapshots {"payload": subscription, "source_time": ms}: the `account` context variable."""
    found = [s for s in snapshots if isinstance(s.get("payload"), Mapping)]
    if not found:
        return {}
    primary = max(found, key=_primary_key)
    payloads = [s["payload"] for s in found]
    mrr, gaps = _mrr(payloads)
    return {
        "id": account_id, "mrr": mrr, "mrr_gaps": gaps, "status": primary["payload"].get("status"),
        "primary": primary["payload"], "subscription_ids": sorted(str(p.get("id")) for p in payloads),
        "live_subscriptions": sum(1 for p in payloads if p.get("status") not in ("canceled", "incomplete_expired")),
        "source_time": max(int(s.get("source_time") or 0) for s in found), "revision": None,
    }
