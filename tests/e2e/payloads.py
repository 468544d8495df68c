"""Stripe objects for end-to-end tests, in the shapes before and after API version 2025-03-31."""

from __future__ import annotations

from typing import Any

PRE_BASIL = "2024-06-20"
BASIL = "2025-03-31.basil"


def price(amount: int = 4900, interval: str = "month", lookup_key: str | None = "pro_monthly",
          currency: str = "usd") -> dict[str, Any]:
    return {"id": "price_pro", "object": "price", "billing_scheme": "per_unit", "currency": currency,
            "lookup_key": lookup_key, "nickname": "Pro", "unit_amount": amount,
            "unit_amount_decimal": str(amount), "type": "recurring",
            "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed"}}


def subscription(account: str = "acme", status: str = "active", quantity: int = 2, shape: str = BASIL,
                 sub_id: str = "sub_1", **fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"id": "si_1", "object": "subscription_item", "price": price(), "quantity": quantity}
    sub: dict[str, Any] = {
        "id": sub_id, "object": "subscription", "customer": "cus_1", "currency": "usd", "status": status,
        "cancel_at": None, "cancel_at_period_end": False, "canceled_at": None, "trial_end": None,
        "metadata": {"pendo_account_id": account, "pendo_visitor_id": f"owner@{account}.example"},
        "items": {"object": "list", "data": [item]}, "discount": None, "discounts": [],
    }
    if shape == BASIL:
        item.update(current_period_start=1_767_225_600, current_period_end=1_769_904_000)
    else:
        sub.update(current_period_start=1_767_225_600, current_period_end=1_769_904_000)
    sub.update(fields)
    return sub


def invoice(account: str = "acme", amount: int = 9800, shape: str = BASIL, paid: bool = True) -> dict[str, Any]:
    inv: dict[str, Any] = {
        "id": "in_1", "object": "invoice", "customer": "cus_1", "customer_email": "billing@acme.example",
        "currency": "usd", "amount_due": amount, "amount_paid": amount if paid else 0,
        "amount_remaining": 0 if paid else amount, "attempt_count": 1 if paid else 2,
        "billing_reason": "subscription_cycle", "status": "paid" if paid else "open",
        "status_transitions": {"paid_at": 1_767_225_700 if paid else None}, "metadata": {},
    }
    meta = {"pendo_account_id": account, "pendo_visitor_id": f"owner@{account}.example"}
    if shape == BASIL:
        inv["parent"] = {"type": "subscription_details",
                         "subscription_details": {"subscription": "sub_1", "metadata": meta}}
    else:
        inv.update(subscription="sub_1", subscription_details={"metadata": meta})
    return inv


def customer(customer_id: str = "cus_1", account: str = "acme") -> dict[str, Any]:
    """The customer of the subscriptions above, as its `customer.created` event carries it (Stripe sends that event
    first): known, with no customer-wide discount."""
    return {"id": customer_id, "object": "customer", "email": f"owner@{account}.example", "discount": None,
            "metadata": {"pendo_account_id": account, "pendo_visitor_id": f"owner@{account}.example"}}
