"""The billing model as the plain values mapping expressions read (pure): JSON numbers, no dataclasses.

Money becomes a float in major units (Pendo takes JSON numbers); times stay unix seconds for `date()`. The field
names here are what `mappings/billing.yaml` and admins' overlays use, documented in docs/mappings.md.
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from bridge.billing import money, mrr
from bridge.billing.model import Facts, Payment, Subscription


def number(value: Decimal | None) -> float | None:
    """A model amount as a JSON number."""
    return None if value is None else float(value)


def subscription_view(subscription: Subscription | None) -> dict[str, Any] | None:
    """A subscription with its main line's fields and its MRR worked out; None stays None."""
    if subscription is None:
        return None
    main = mrr.main_item(subscription)
    monthly, listed = mrr.mrr(subscription), mrr.list_mrr(subscription)
    scheduled = subscription.cancels_at is not None or bool(subscription.cancel_at_period_end)
    return {
        "provider": subscription.provider, "id": subscription.id, "customer_id": subscription.customer_id,
        "status": subscription.status, "currency": subscription.currency,
        "plan": main.plan if main else None, "plan_gap": main.plan_gap if main else None,
        "price_id": main.price_id if main else None,
        "product_id": main.product_id if main else None, "lookup_key": main.lookup_key if main else None,
        "price_metadata": dict(main.metadata) if main else {},
        "interval": main.interval if main else None, "interval_count": main.interval_count if main else None,
        "seats": main.quantity if main else None,
        "mrr": number(monthly.amount), "list_mrr": number(listed.amount), "mrr_gaps": list(monthly.gaps),
        "created_at": subscription.created_at, "trial_end": subscription.trial_end,
        "period_end": subscription.period_end, "cancel_at_period_end": subscription.cancel_at_period_end,
        "cancels_at": subscription.cancels_at, "canceled_at": subscription.canceled_at,
        "cancellation_scheduled": scheduled, "cancel_reason": subscription.cancel_reason,
        "paused": subscription.paused, "resumes_at": subscription.resumes_at,
    }


def payment_view(payment: Payment | None) -> dict[str, Any] | None:
    """A payment with its amount as a JSON number rounded to 2 decimals, as every Pendo amount; None stays None."""
    if payment is None:
        return None
    amount = number(payment.amount)
    return {**asdict(payment), "amount": None if amount is None else money.round_half_up(amount)}


def facts_view(facts: Facts) -> dict[str, Any]:
    """What one event says, as the `facts` context variable."""
    return {
        "identity": asdict(facts.identity), "subscription": subscription_view(facts.subscription),
        "payment": payment_view(facts.payment),
        "customer": asdict(facts.customer) if facts.customer is not None else None,
        "trial_ending": facts.trial_ending,
    }
