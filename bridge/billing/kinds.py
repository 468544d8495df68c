"""The neutral kind of an event (pure): what rules for any provider match on, when the package does not say."""

from __future__ import annotations

from bridge.billing.model import Facts, Subscription


def kind(facts: Facts, before: Subscription | None) -> str:
    """The package's own `Facts.kind`, else one told from the facts and the subscription `before` the event."""
    if facts.kind:
        return facts.kind
    if facts.trial_ending:
        return "subscription.trial_ending"
    if facts.subscription is not None:
        now = facts.subscription.status
        if now == "canceled" and (before is None or before.status != "canceled"):
            return "subscription.canceled"
        return "subscription.created" if before is None else "subscription.updated"
    if facts.payment is not None:
        return f"payment.{facts.payment.kind}"
    return "customer.updated" if facts.customer is not None else "other"
