"""Stripe events and subscription objects in the billing model's terms (pure).

The amounts come from `billing` (tiers, package pricing, inclusive tax), so the model's MRR
(`bridge.billing.mrr`) gives exactly the numbers Stripe's own rules gave: only `forever` coupons become
`Discount`s (Stripe's MRR counts no other), a discount the payload names only by id is a gap, and so is a
price whose amount the payload lacks. Identity is read from Stripe's slots only — `pendo_account_id` /
`pendo_visitor_id` metadata on the object, its subscription or its customer; the link table and the fallbacks
are the core's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from fnmatch import fnmatchcase
from typing import Any

from bridge.billing import money
from bridge.billing.model import INTERVALS, Customer, Discount, Facts, Identity, Item, Payment, Subscription
from bridge.providers import Event
from bridge.providers.stripe import billing, versions

NAME = "stripe"
# Stripe's statuses onto the model's; `incomplete_expired` is terminal (the first invoice was never paid).
STATUSES = {
    "trialing": "trialing", "active": "active", "past_due": "past_due", "paused": "paused", "unpaid": "unpaid",
    "canceled": "canceled", "incomplete": "incomplete", "incomplete_expired": "canceled",
}
PAYMENTS = {  # event type → (payment kind, the invoice field holding its amount)
    "invoice.paid": ("paid", "amount_paid"),
    "invoice.payment_failed": ("failed", "amount_due"),
    "invoice.payment_action_required": ("action_required", "amount_due"),
}
KINDS = {  # Stripe's event types onto the model's kinds; other subscription events are notices
    "customer.subscription.created": "subscription.created",
    "customer.subscription.updated": "subscription.updated",
    "customer.subscription.deleted": "subscription.canceled",
    "customer.subscription.trial_will_end": "subscription.trial_ending",
    "invoice.paid": "payment.paid",
    "invoice.payment_failed": "payment.failed",
    "invoice.payment_action_required": "payment.action_required",
    "charge.refunded": "payment.refunded",
    "charge.dispute.created": "payment.disputed",
    "customer.created": "customer.updated",
    "customer.updated": "customer.updated",
    "customer.deleted": "customer.updated",
}
# The subscription events lifecycle events come from; the others (`paused`, `resumed`, `trial_will_end` …) are
# notices and give none of their own, so a change is not sent twice.
CHANGES = ("customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted")
Payload = Mapping[str, Any]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _time(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _id(value: Any) -> str | None:
    return _text(value.get("id")) if isinstance(value, Mapping) else _text(value)


def _currency(value: Any) -> str | None:
    return value.upper() if isinstance(value, str) and value else None


def major(amount_minor: Any, currency: str | None) -> Decimal | None:
    """Stripe's minor units (an integer, or a float after tax and quantity arithmetic) as exact major units."""
    if not isinstance(amount_minor, int | float) or isinstance(amount_minor, bool):
        return None
    return Decimal(repr(amount_minor)).scaleb(-money.exponent(currency))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _discount(coupon: Payload, default_currency: str | None, price_ids: tuple[str, ...]) -> Discount | None:
    """A `forever` coupon as a model discount; None for the others, which Stripe's MRR does not count."""
    if coupon.get("duration") != "forever":
        return None
    percent, amount = coupon.get("percent_off"), coupon.get("amount_off")
    currency = _currency(coupon.get("currency")) or default_currency
    if isinstance(amount, int | float) and default_currency and currency != default_currency:
        # An amount-off coupon in another currency gives its amount in this one in `currency_options` (present
        # when the coupon is fetched with `expand[]=currency_options`); without it, the model withholds MRR.
        option = _mapping(_mapping(coupon.get("currency_options")).get(default_currency.lower()))
        if not isinstance(option.get("amount_off"), int | float):
            return None  # its amount here is not known: a gap of the subscription's (`billing.foreign_coupon_ids`)
        amount, currency = option["amount_off"], default_currency
    return Discount(percent_off=Decimal(repr(percent)) if isinstance(percent, int | float) else None,
                    amount_off=major(amount, currency), currency=currency, price_ids=price_ids)


def _item(raw: Payload, item: Payload) -> tuple[Item, list[Discount]]:
    price = billing.price_of(item)
    recurring = billing.recurring_of(price)
    currency = _currency(price.get("currency")) or _currency(raw.get("currency"))
    metered = recurring.get("usage_type") == "metered"
    gap = None if metered else billing.item_gap(item, raw)
    quantity, count = item.get("quantity"), recurring.get("interval_count")
    interval = recurring.get("interval")
    price_id = _text(price.get("id"))
    metadata = _mapping(price.get("metadata"))
    found = Item(
        price_id=price_id, plan=billing.price_plan_name(price), plan_gap=billing.plan_gap(price),
        amount=None if metered or gap else major(billing.period_amount(item, raw), currency),
        currency=currency, interval=interval if interval in INTERVALS else None,
        interval_count=int(count) if isinstance(count, int | float) and count else 1,
        quantity=int(quantity) if isinstance(quantity, int | float) and not isinstance(quantity, bool) else None,
        metered=metered, product_id=_id(price.get("product")), lookup_key=_text(price.get("lookup_key")),
        metadata={str(k): str(v) for k, v in metadata.items() if v is not None}, gap=gap,
        tax_divisor=Decimal(repr(billing.inclusive_tax_divisor(item, raw) or 1.0)),
    )
    coupons = [] if gap or metered else billing.coupons(item) or []
    own = (price_id,) if price_id else ()
    return found, [d for coupon in coupons if (d := _discount(coupon, currency, own))]


def subscription(raw: Payload) -> Subscription | None:
    """A Stripe subscription object (canonical shape, prices looked up when known) in the model's terms."""
    if raw.get("object") != "subscription" or not _text(raw.get("id")):
        return None
    currency = _currency(raw.get("currency"))
    items, discounts = [], []
    for item in billing.subscription_items(raw):
        found, own = _item(raw, item)
        items.append(found)
        discounts += own
    shared = billing.coupons(raw)
    gaps = [] if shared is not None else [f"subscription {raw.get('id')} has a discount that is not expanded"]
    customer_wide, unknown = billing.customer_discount_of(raw)
    gaps += [unknown] if unknown else []
    gaps += [f"coupon {coupon} is in another currency than {currency or '?'}: its amount in {currency or '?'} "
             "needs its currency_options (STRIPE_API_KEY)" for coupon in billing.foreign_coupon_ids(raw)]
    discounts += [d for coupon in [*(shared or []), *customer_wide] if (d := _discount(coupon, currency, ()))]
    pause = _mapping(raw.get("pause_collection"))
    cancel_at_period_end = raw.get("cancel_at_period_end")
    return Subscription(
        provider=NAME, id=str(raw["id"]), customer_id=_id(raw.get("customer")),
        status=STATUSES.get(str(raw.get("status"))), items=tuple(items), discounts=tuple(discounts),
        currency=currency, created_at=_time(raw.get("created")), trial_end=_time(raw.get("trial_end")),
        period_end=_time(billing.period_end(raw)),
        cancel_at_period_end=cancel_at_period_end if isinstance(cancel_at_period_end, bool) else None,
        cancels_at=_time(billing.cancels_at(raw)), canceled_at=_time(raw.get("canceled_at")),
        paused=billing.collection_paused(raw), resumes_at=_time(pause.get("resumes_at")), gaps=tuple(gaps),
        cancel_reason=_text(_mapping(raw.get("cancellation_details")).get("feedback")),
    )


def _identity(obj: Payload, enrichment: Payload) -> Identity:
    """Metadata first (the object, its subscription, its customer), then a checkout's `client_reference_id`."""
    chain = billing.metadata_chain(obj, enrichment)
    account_id = billing.first(chain, "pendo_account_id")
    if account_id is None and obj.get("object") == "checkout.session":
        reference = obj.get("client_reference_id")
        account_id = reference.strip() if isinstance(reference, str) and reference.strip() else None
    customer_id = billing.object_customer_id(obj) or billing.enriched_customer_id(enrichment)
    visitor_id = billing.first(chain, "pendo_visitor_id")
    guest = "customer" in obj and not obj.get("customer") and not (customer_id or account_id or visitor_id)
    return Identity(customer_id=customer_id, account_id=account_id, visitor_id=visitor_id,
                    email=billing.email_of(obj, enrichment), guest=guest)


def _payment(event: Event, obj: Payload, previous: Payload) -> Payment | None:
    currency = _currency(obj.get("currency"))
    if event.type in PAYMENTS:
        kind, field = PAYMENTS[event.type]
        paid_at = _time(_mapping(obj.get("status_transitions")).get("paid_at")) if kind == "paid" else None
        return Payment(kind=kind, id=_text(obj.get("id")), amount=major(obj.get(field), currency),
                       currency=currency, at=paid_at or event.created,
                       subscription_id=billing.subscription_of_invoice(obj), invoice_id=_text(obj.get("id")),
                       attempt_count=obj.get("attempt_count") if isinstance(obj.get("attempt_count"), int) else None,
                       reason=_text(obj.get("billing_reason")))
    if event.type == "charge.refunded":
        return Payment(kind="refunded", id=_text(obj.get("id")), currency=currency, at=event.created,
                       amount=major(billing.refund_amount(obj, previous), currency))
    if event.type == "charge.dispute.created":
        return Payment(kind="disputed", id=_text(obj.get("id")), amount=major(obj.get("amount"), currency),
                       currency=currency, at=event.created, reason=_text(obj.get("reason")))
    return None


def _before(event_type: str, obj: Payload, previous: Payload, prices: Payload) -> Subscription | None:
    """The subscription before a change, from the event's `previous_attributes` laid over it."""
    if event_type not in CHANGES or not previous:
        return None
    return subscription(billing.with_prices({**obj, **previous}, prices))


def event_types(kind_globs: Iterable[str]) -> set[str]:
    """Stripe's event types whose neutral kind matches one of `kind_globs` (what a catch-up must fetch for the rules
    of every provider)."""
    globs = list(kind_globs)
    return {event_type for event_type, kind in KINDS.items() if any(fnmatchcase(kind, glob) for glob in globs)}


def _kind(event_type: str) -> str:
    if event_type in KINDS:
        return KINDS[event_type]
    return "subscription.notice" if event_type.startswith("customer.subscription.") else "other"


def facts(event: Event, enrichment: Payload) -> Facts:
    """What a Stripe event says in the model's terms (`enrichment`: the customer and prices looked up)."""
    data = _mapping(versions.normalise(event.payload).get("data"))
    obj, previous = _mapping(data.get("object")), _mapping(data.get("previous_attributes"))
    found = before = None
    if event.type.startswith("customer.subscription.") and obj.get("object") == "subscription":
        prices, customer = _mapping(enrichment.get("prices")), enrichment.get("customer")
        obj = billing.with_coupons(billing.with_customer(obj, customer), _mapping(enrichment.get("coupons")))
        obj = billing.with_products(obj, _mapping(enrichment.get("products")))
        found = subscription(billing.with_prices(obj, prices))
        before = _before(event.type, obj, previous, prices) or (None if event.type in CHANGES else found)
    customer = None
    if event.type.startswith("customer.") and obj.get("object") == "customer" and _text(obj.get("id")):
        delinquent = obj.get("delinquent")
        customer = Customer(id=str(obj["id"]), email=_text(obj.get("email")), name=_text(obj.get("name")),
                            delinquent=delinquent if isinstance(delinquent, bool) else None)
    return Facts(identity=_identity(obj, enrichment), subscription=found, payment=_payment(event, obj, previous),
                 customer=customer, trial_ending=event.type == "customer.subscription.trial_will_end",
                 before=before, kind=_kind(event.type))
