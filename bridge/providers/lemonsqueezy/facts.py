"""What a verified Lemon Squeezy event says in the billing model's terms (pure: no network, no clock).

Subscription events carry a subscription whose one priced line is `first_subscription_item` (a price id and a
quantity) — no amount, interval or currency. Those come from `api.enrichment`: the price (`unit_price` in cents,
`renewal_interval_unit`, `renewal_interval_quantity`) and the store (its currency). Without them the amount, interval
and currency are None with a gap. Payment events carry a subscription invoice (or, for `order_refunded`, an order)
with its own amounts and currency.

Lemon Squeezy's `cancelled` is a grace period: the subscription stays valid until `ends_at`, so it maps to `active`
with cancel at period end; `expired` is the end (`canceled`, at `ends_at`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge.billing import money
from bridge.billing.model import INTERVALS, Customer, Facts, Identity, Item, Payment, Subscription
from bridge.providers import Event
from bridge.providers.lemonsqueezy.webhook import NAME
from bridge.providers.standard.payload import iso_time
from bridge.providers.values import currency_code, identifier, mapping, text

Raw = Mapping[str, Any]

STATUSES: Mapping[str, str] = {
    "on_trial": "trialing",
    "active": "active",
    "paused": "paused",
    "past_due": "past_due",
    "unpaid": "unpaid",
    "cancelled": "active",  # valid until ends_at
    "expired": "canceled",
}
INVOICE_PAYMENTS: Mapping[str, str] = {
    "subscription_payment_success": "paid",
    "subscription_payment_failed": "failed",
    "subscription_payment_refunded": "refunded",
}
ACCOUNT_SLOT = "pendo_account_id"
VISITOR_SLOT = "pendo_visitor_id"
NO_API = "Lemon Squeezy subscriptions carry a price id, not an amount: set LEMONSQUEEZY_API_KEY to read the price"


def facts(event: Event, enrichment: Mapping[str, Any]) -> Facts:
    """The event's facts; `enrichment` may hold the subscription's `price` and `store` resources."""
    data = mapping(event.payload.get("data"))
    attributes = mapping(data.get("attributes"))
    found = subscription_of(data, mapping(enrichment.get("price")), mapping(enrichment.get("store"))) \
        if data.get("type") == "subscriptions" else None
    return Facts(
        identity=identity(mapping(event.payload.get("meta")), attributes, event.customer_id),
        subscription=found,
        payment=payment(event.type, data),
        customer=_customer(attributes),
    )


def subscription(raw: Mapping[str, Any]) -> Subscription | None:
    """A JSON:API subscription resource (from a webhook or the list API) without its price: amounts are gaps."""
    return subscription_of(raw, {}, {}) if isinstance(raw, Mapping) and raw.get("type") == "subscriptions" else None


def subscription_of(resource: Raw, price: Raw, store: Raw) -> Subscription | None:
    """A subscription resource with its price and store, when fetched; None when it is not one."""
    attributes = mapping(resource.get("attributes"))
    subscription_id = identifier(resource.get("id"))
    if subscription_id is None or not attributes:
        return None
    state = attributes.get("status")
    status = STATUSES.get(state) if isinstance(state, str) else None
    currency = currency_code(mapping(store.get("attributes")).get("currency"))
    item = _item(attributes, mapping(price.get("attributes")), identifier(price.get("id")), currency)
    pause = mapping(attributes.get("pause"))
    ends_at = iso_time(attributes.get("ends_at"))
    gaps = tuple(gap for gap in (
        None if status else f"status {state!r} has no equivalent in the billing model",
        item.gap,
        "Lemon Squeezy does not say when a cancellation was asked for" if state == "cancelled" else None,
    ) if gap)
    return Subscription(
        provider=NAME,
        id=subscription_id,
        customer_id=identifier(attributes.get("customer_id")),
        status=status,
        items=(item,),
        currency=currency,
        created_at=iso_time(attributes.get("created_at")),
        trial_end=iso_time(attributes.get("trial_ends_at")),
        period_end=iso_time(attributes.get("renews_at")),
        cancel_at_period_end=(state == "cancelled") if status else None,
        cancels_at=ends_at if state == "cancelled" else None,
        canceled_at=ends_at if state == "expired" else None,
        paused=(state == "paused") if status else None,
        resumes_at=iso_time(pause.get("resumes_at")) if pause else None,
        mrr=None,  # Lemon Squeezy publishes no MRR on a subscription
        gaps=gaps,
    )


def _item(attributes: Raw, price: Raw, price_id: str | None, currency: str | None) -> Item:
    """The subscription's one line: quantity from the subscription, unit price and interval from its price."""
    line = mapping(attributes.get("first_subscription_item"))
    quantity = _count(line.get("quantity"))
    metered = line.get("is_usage_based") is True or price.get("usage_aggregation") is not None
    interval = price.get("renewal_interval_unit") if price.get("renewal_interval_unit") in INTERVALS else None
    count = price.get("renewal_interval_quantity")
    amount, gap = _amount(price, quantity, currency, metered)
    return Item(
        price_id=identifier(line.get("price_id")) or price_id,
        plan=text(attributes.get("product_name")),
        amount=amount,
        currency=currency,
        interval=interval,
        interval_count=count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 1,
        quantity=quantity,
        metered=metered,
        product_id=identifier(attributes.get("product_id")),
        lookup_key=identifier(attributes.get("variant_id")),
        gap=gap,
    )


def _amount(price: Raw, quantity: int | None, currency: str | None, metered: bool) -> tuple[Decimal | None, str | None]:
    """unit_price (cents) times quantity, in major units, for a standard recurring price; else None and why."""
    if metered:
        return None, None
    if not price:
        return None, NO_API
    if price.get("category") != "subscription" or price.get("scheme") != "standard":
        return None, f"price scheme {price.get('scheme')!r} ({price.get('category')!r}) is not a flat unit price"
    unit = _cents(price.get("unit_price_decimal"))
    unit = unit if unit is not None else _cents(price.get("unit_price"))
    if unit is None or quantity is None or currency is None:
        return None, "the price's unit_price, the quantity or the store's currency is missing"
    return (unit * quantity).scaleb(-money.exponent(currency)), None


def identity(meta: Raw, attributes: Raw, customer_id: str | None) -> Identity:
    """The Pendo ids passed as checkout custom data (`meta.custom_data`), the customer and their email."""
    custom = mapping(meta.get("custom_data"))
    return Identity(
        customer_id=identifier(attributes.get("customer_id")) or customer_id,
        account_id=_slot(custom.get(ACCOUNT_SLOT)),
        visitor_id=_slot(custom.get(VISITOR_SLOT)),
        email=text(attributes.get("user_email")),
    )


def payment(event_type: str, resource: Raw) -> Payment | None:
    """A payment fact from a subscription invoice's success / failure / refund, or a refunded order."""
    attributes = mapping(resource.get("attributes"))
    kind = INVOICE_PAYMENTS.get(event_type) or ("refunded" if event_type == "order_refunded" else None)
    if kind is None:
        return None
    currency = currency_code(attributes.get("currency"))
    cents = attributes.get("refunded_amount") if kind == "refunded" else attributes.get("total")
    when = attributes.get("refunded_at") if kind == "refunded" else attributes.get("updated_at")
    unit = _cents(cents)
    is_invoice = resource.get("type") == "subscription-invoices"
    return Payment(
        kind=kind,
        id=identifier(resource.get("id")),
        amount=unit.scaleb(-money.exponent(currency)) if unit is not None and currency else None,
        currency=currency,
        at=iso_time(when) or iso_time(attributes.get("updated_at")),
        subscription_id=identifier(attributes.get("subscription_id")) if is_invoice else None,
        invoice_id=identifier(resource.get("id")) if is_invoice else None,
        reason=text(attributes.get("billing_reason")),
    )


def _customer(attributes: Raw) -> Customer | None:
    customer_id = identifier(attributes.get("customer_id"))
    if customer_id is None:
        return None
    return Customer(id=customer_id, email=text(attributes.get("user_email")), name=text(attributes.get("user_name")))


def _cents(value: object) -> Decimal | None:
    """An integer amount in cents (or a `*_decimal` string of cents) as a Decimal; None when it is not one."""
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _slot(value: object) -> str | None:
    """A custom data value as an id: text, or a whole number; blank is None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
