"""What a Polar event says in the billing model's terms (pure).

Subscriptions (`subscription.*`, and `bridge sync polar`'s list) become one priced item for the recurring amount
plus one metered item per usage-based price. The item's amount is the amount before the discount (`amounts`), or
withheld with a gap when it cannot be known. Only `forever` discounts count toward MRR (docs/billing.md).

Payments: `order.paid` (the order's total, tax included) and `refund.created` (amount plus refunded tax). Identity
slots: `metadata.pendo_account_id` / `pendo_visitor_id` on the object, its subscription, then its customer.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bridge.billing import money
from bridge.billing.model import INTERVALS, Customer, Discount, Facts, Identity, Item, Payment, Subscription
from bridge.providers import Event
from bridge.providers.polar.amounts import fixed_off, gross_amount
from bridge.providers.standard.facts import slot
from bridge.providers.standard.payload import iso_time
from bridge.providers.values import mapping, text

STATUSES = {
    "incomplete": "incomplete",
    "incomplete_expired": "canceled",  # never became active, and never will
    "trialing": "trialing",
    "active": "active",
    "past_due": "past_due",
    "unpaid": "unpaid",
    "paused": "paused",
    "canceled": "canceled",
}
REFUNDS_THAT_COUNT = ("pending", "succeeded")  # failed and canceled refunds returned nothing


def facts(event: Event, enrichment: Mapping[str, Any]) -> Facts:
    """The event's facts; `enrichment` may hold the `customer` object for events that carry only its id."""
    data = event.payload.get("data")
    data = data if isinstance(data, Mapping) else {}
    kind = event.type.partition(".")[0]
    known = enrichment.get("customer")
    customer = mapping(data) if kind == "customer" else mapping(data.get("customer"))
    customer = customer or mapping(known)
    identity = _identity(event.customer_id, [data, mapping(data.get("subscription")), customer])
    if kind == "subscription":
        return Facts(identity, subscription=subscription(data))
    if event.type == "order.paid":
        return Facts(identity, payment=_order_paid(data, event.created))
    if event.type == "refund.created":
        return Facts(identity, payment=_refund(data, event.created))
    if kind == "customer" and isinstance(data.get("id"), str):
        return Facts(identity, customer=Customer(id=data["id"], email=text(data.get("email")),
                                                 name=text(data.get("name"))))
    return Facts(identity)


def subscription(raw: Mapping[str, Any]) -> Subscription | None:
    """A Polar subscription object in the model's terms; None when `raw` is not one."""
    if not isinstance(raw.get("id"), str) or "recurring_interval" not in raw or not isinstance(raw.get("status"), str):
        return None
    gaps: list[str] = []
    status = STATUSES.get(raw["status"])
    if status is None:
        gaps.append(f"status {raw['status']!r} is not one bridge knows")
    currency = _currency(raw.get("currency"))
    items = (_main_item(raw, currency, gaps), *_metered_items(raw, currency))
    ended = iso_time(raw.get("ended_at"))
    return Subscription(
        provider="polar",
        id=raw["id"],
        customer_id=text(raw.get("customer_id")) or text(mapping(raw.get("customer")).get("id")),
        status=status,
        items=items,
        discounts=_discounts(raw.get("discount"), currency),
        currency=currency,
        created_at=iso_time(raw.get("created_at")),
        trial_end=iso_time(raw.get("trial_end")),
        period_end=iso_time(raw.get("current_period_end")),
        cancel_at_period_end=raw["cancel_at_period_end"] if isinstance(raw.get("cancel_at_period_end"), bool) else None,
        cancels_at=iso_time(raw.get("ends_at")) if ended is None else None,
        canceled_at=iso_time(raw.get("canceled_at")),
        paused=raw["status"] == "paused",
        resumes_at=iso_time(raw.get("resumes_at")),
        mrr=None,  # Polar publishes no MRR per subscription
        gaps=tuple(gaps),
    )


def _main_item(raw: Mapping[str, Any], currency: str | None, gaps: list[str]) -> Item:
    """The recurring line: the whole amount per billing period before the discount, seats or units as quantity."""
    product = mapping(raw.get("product"))
    prices = [mapping(price) for price in raw.get("prices") or [] if isinstance(price, Mapping)]
    priced = [price for price in prices if price.get("amount_type") != "metered_unit"]
    gross, gap = gross_amount(raw)
    if gross is not None and any(price.get("tax_behavior") == "inclusive" for price in priced):
        gross, gap = None, "a price includes tax and Polar gives no rate to take it out"
    interval = raw.get("recurring_interval")
    if interval not in INTERVALS:
        gaps.append(f"recurring interval {interval!r} is not one bridge knows")
    if gap:
        gaps.append(gap)
    count = raw.get("recurring_interval_count")
    return Item(
        price_id=text(priced[0].get("id")) if priced else None,
        plan=text(product.get("name")),
        amount=major(gross, currency),
        currency=currency,
        interval=interval if interval in INTERVALS else None,
        interval_count=count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 1,
        quantity=_quantity(raw),
        product_id=text(raw.get("product_id")) or text(product.get("id")),
        metadata=_strings(product.get("metadata")),
        gap=gap,
    )


def _metered_items(raw: Mapping[str, Any], currency: str | None) -> tuple[Item, ...]:
    """One line per usage-based price: billed on usage, so no recurring amount (left out of MRR)."""
    product = mapping(raw.get("product"))
    interval = raw.get("recurring_interval")
    return tuple(
        Item(price_id=text(price.get("id")), plan=text(product.get("name")), amount=None, currency=currency,
             interval=interval if interval in INTERVALS else None, quantity=None, metered=True,
             product_id=text(price.get("product_id")))
        for price in raw.get("prices") or []
        if isinstance(price, Mapping) and price.get("amount_type") == "metered_unit"
    )


def _discounts(discount: object, currency: str | None) -> tuple[Discount, ...]:
    """The discount when it counts toward MRR: `forever` only (`once` and `repeating` end)."""
    if not isinstance(discount, Mapping) or discount.get("duration") != "forever":
        return ()
    ends_at = iso_time(discount.get("ends_at"))
    points = discount.get("basis_points")
    if discount.get("type") == "percentage" and isinstance(points, int) and not isinstance(points, bool):
        return (Discount(percent_off=Decimal(points) / 100, ends_at=ends_at),)
    off = fixed_off(discount, currency)
    if discount.get("type") == "fixed" and off is not None:
        return (Discount(amount_off=major(off, currency), currency=currency, ends_at=ends_at),)
    return ()


def _order_paid(order: Mapping[str, Any], at: float) -> Payment:
    currency = _currency(order.get("currency"))
    return Payment(kind="paid", id=text(order.get("id")), amount=major(order.get("total_amount"), currency),
                   currency=currency, at=at, subscription_id=text(order.get("subscription_id")),
                   invoice_id=text(order.get("id")), reason=text(order.get("billing_reason")))


def _refund(refund: Mapping[str, Any], at: float) -> Payment | None:
    if refund.get("status") not in REFUNDS_THAT_COUNT:
        return None
    currency = _currency(refund.get("currency"))
    amount, tax = refund.get("amount"), refund.get("tax_amount", 0)
    total = amount + tax if _is_int(amount) and _is_int(tax) else None
    return Payment(kind="refunded", id=text(refund.get("id")), amount=major(total, currency), currency=currency,
                   at=iso_time(refund.get("created_at")) or at, subscription_id=text(refund.get("subscription_id")),
                   invoice_id=text(refund.get("order_id")), reason=text(refund.get("reason")))


def _identity(customer_id: str | None, sources: list[Mapping[str, Any]]) -> Identity:
    """The first filled slot along object → subscription → customer; the customer's email."""
    def first(key: str) -> str | None:
        return next((value for value in (slot(s.get("metadata"), key) for s in sources) if value), None)

    return Identity(customer_id=customer_id, account_id=first("pendo_account_id"),
                    visitor_id=first("pendo_visitor_id"), email=text(sources[-1].get("email")))


def major(amount: object, currency: str | None) -> Decimal | None:
    """Minor units as a Decimal in major units, by the currency's exponent; None when not a whole number."""
    if not isinstance(amount, int) or isinstance(amount, bool) or currency is None:
        return None
    return Decimal(amount).scaleb(-money.exponent(currency))


def _quantity(raw: Mapping[str, Any]) -> int:
    for key in ("seats", "units"):
        value = raw.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 1


def _strings(value: object) -> dict[str, str]:
    return {k: v for k, v in value.items() if isinstance(v, str)} if isinstance(value, Mapping) else {}


def _currency(value: object) -> str | None:
    return value.upper() if isinstance(value, str) and value else None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
