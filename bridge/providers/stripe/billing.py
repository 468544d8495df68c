"""Pure Stripe billing semantics over payload dicts: API-version shapes, MRR, plan, identity, tie ranks.

Every function takes plain dicts as parsed from JSON and never calls Stripe; a missing path is None.
Amounts stay in minor units until `subscription_mrr` / `list_mrr` convert them with `money`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from bridge.billing import money

Payload = Mapping[str, Any]

MONTHS_PER_INTERVAL = {"month": 1.0, "year": 1 / 12, "week": 52 / 12, "day": 365 / 12}
MRR_STATUSES = frozenset({"active", "past_due"})

# Tie-break precedence for two events of the same `created` second (see docs/ordering.md).
EVENT_TYPE_RANKS = {
    "invoice.created": 0,
    "invoice.finalized": 1,
    "invoice.payment_failed": 2,
    "invoice.paid": 3,
    "invoice.payment_succeeded": 3,
}
EVENT_SUFFIX_RANKS = {".created": 0, ".updated": 1, ".deleted": 2}
UNKNOWN_TYPE_RANK = 1  # like an update
STATUS_PROGRESSION = (  # subscriptions: terminal states last, so they win a tie
    "incomplete", "trialing", "active", "past_due", "unpaid", "paused", "incomplete_expired", "canceled",
)
INVOICE_STATUS_PROGRESSION = ("draft", "open", "paid", "uncollectible", "void")
STATUS_RANKS = {
    **{status: rank for rank, status in enumerate(INVOICE_STATUS_PROGRESSION, start=1)},
    **{status: rank for rank, status in enumerate(STATUS_PROGRESSION, start=1)},
}


def _path(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _id(value: Any) -> str | None:
    """An object id from either a bare id string or an expanded object."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _metadata(value: Any) -> Mapping[str, Any]:
    found = _path(value, "metadata")
    return found if isinstance(found, Mapping) else {}


def subscription_of_invoice(invoice: Payload) -> str | None:
    """The invoice's subscription id, from the pre-basil or the basil (2025-03-31+) shape."""
    legacy = _id(invoice.get("subscription"))
    return legacy or _id(_path(invoice, "parent", "subscription_details", "subscription"))


def subscription_metadata_of_invoice(invoice: Payload) -> Mapping[str, Any]:
    """The subscription metadata an invoice carries, from either API shape (or an expanded subscription)."""
    for found in (
        _path(invoice, "parent", "subscription_details", "metadata"),
        _path(invoice, "subscription_details", "metadata"),
        _path(invoice, "subscription", "metadata"),
    ):
        if isinstance(found, Mapping) and found:
            return found
    return {}


def subscription_items(subscription: Payload) -> list[Mapping[str, Any]]:
    data = _path(subscription, "items", "data")
    return [item for item in data if isinstance(item, Mapping)] if isinstance(data, list) else []


def period_end(subscription: Payload) -> int | None:
    """The current period end: on the subscription before basil, the latest of its items' from basil on."""
    top = _number(subscription.get("current_period_end"))
    if top is not None:
        return int(top)
    ends = [_number(item.get("current_period_end")) for item in subscription_items(subscription)]
    numbers = [int(end) for end in ends if end is not None]
    return max(numbers) if numbers else None


def price_of(item: Payload) -> Mapping[str, Any]:
    found = item.get("price") or item.get("plan")
    return found if isinstance(found, Mapping) else {}


def recurring_of(price: Payload) -> Mapping[str, Any]:
    """The recurrence of a price (`recurring`) or of a legacy plan (fields on the plan itself)."""
    found = price.get("recurring")
    return found if isinstance(found, Mapping) else price


def _months_factor(recurring: Payload) -> float | None:
    """How many times per month a price with this recurrence is charged."""
    per_interval = MONTHS_PER_INTERVAL.get(str(recurring.get("interval")))
    count = _number(recurring.get("interval_count")) or 1.0
    if per_interval is None or count <= 0:
        return None
    return per_interval / count


def _unit_amount(price: Payload) -> float | None:
    for key in ("unit_amount", "amount"):
        value = _number(price.get(key))
        if value is not None:
            return value
    decimal = price.get("unit_amount_decimal") or price.get("amount_decimal")
    try:
        return float(decimal) if decimal is not None else None
    except (TypeError, ValueError):
        return None


def _units(item: Payload, price: Payload) -> float:
    """The billed quantity, after package pricing (`transform_quantity`) when the price has it."""
    quantity = _number(item.get("quantity"))
    quantity = 1.0 if quantity is None else quantity
    transform = price.get("transform_quantity")
    if not isinstance(transform, Mapping) or not _number(transform.get("divide_by")):
        return quantity
    packages = quantity / transform["divide_by"]
    return float(math.floor(packages) if transform.get("round") == "down" else math.ceil(packages))


def _tier_amounts(tier: Payload) -> tuple[float, float]:
    unit = _unit_amount(tier) or 0.0
    flat = _number(tier.get("flat_amount")) or _decimal(tier.get("flat_amount_decimal")) or 0.0
    return unit, flat


def _tiered_amount(price: Payload, units: float) -> float | None:
    """The per-interval amount of a tiered price for `units` (volume or graduated); None without tiers."""
    tiers = [tier for tier in price.get("tiers") or [] if isinstance(tier, Mapping)]
    if not tiers:
        return None
    total, floor = 0.0, 0.0
    for tier in tiers:
        ceiling = _number(tier.get("up_to"))
        unit, flat = _tier_amounts(tier)
        if price.get("tiers_mode") == "volume":
            if ceiling is None or units <= ceiling:
                return unit * units + flat
            continue
        top = units if ceiling is None else min(units, ceiling)
        if top > floor:
            total += unit * (top - floor) + flat
        if ceiling is None or units <= ceiling:
            break
        floor = ceiling
    return total


def _decimal(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def inclusive_tax_divisor(item: Payload, subscription: Payload) -> float | None:
    """What a tax-inclusive amount is divided by to remove its tax; None when the rate is not in the payload."""
    price = price_of(item)
    rates = item.get("tax_rates") or subscription.get("default_tax_rates") or []
    inclusive = [rate for rate in rates if isinstance(rate, Mapping) and rate.get("inclusive")]
    if inclusive:
        return 1.0 + sum(_number(rate.get("percentage")) or 0.0 for rate in inclusive) / 100
    automatic = _path(subscription, "automatic_tax", "enabled") is True
    if price.get("tax_behavior") == "inclusive" and automatic:
        return None  # Stripe Tax decides the rate at invoicing; the subscription does not carry it
    return 1.0


def _item_discount(amount: float, item: Payload, subscription: Payload) -> float | None:
    """Apply the item's own forever discounts (basil+ `items[].discounts`); None if one is not expanded."""
    found = coupons(item)
    if found is None:
        return None
    factor = _months_factor(recurring_of(price_of(item)))
    return _apply_coupons(amount, found, factor, str(price_of(item).get("currency") or ""),
                          inclusive_tax_divisor(item, subscription) or 1.0)


def item_gap(item: Payload, subscription: Payload) -> str | None:
    """Why an item's monthly amount cannot be known from the payload, or None."""
    price = price_of(item)
    name = price.get("id") or "?"
    if recurring_of(price).get("usage_type") == "metered":
        return None
    if price.get("billing_scheme") == "tiered" and not price.get("tiers"):
        return f"price {name} is tiered: its tiers need the price look-up (STRIPE_API_KEY)"
    if inclusive_tax_divisor(item, subscription) is None:
        return f"price {name} is tax-inclusive under Stripe Tax: the rate is not in the payload"
    if coupons(item) is None:
        return f"subscription item of price {name} has a discount that is not expanded"
    if _months_factor(recurring_of(price)) is None or (
            price.get("billing_scheme") != "tiered" and _unit_amount(price) is None):
        return f"price {name} has no recurring amount"
    return None


def period_amount(item: Payload, subscription: Payload | None = None) -> float | None:
    """One licensed item's amount per billing period in minor units, whole quantity, net of tax and before
    discounts; None when the payload cannot tell (`item_gap`)."""
    price = price_of(item)
    if price.get("billing_scheme") == "tiered":
        amount = _tiered_amount(price, _number(item.get("quantity")) or 0.0)
    else:
        unit = _unit_amount(price)
        amount = None if unit is None else unit * _units(item, price)
    divisor = inclusive_tax_divisor(item, subscription or {})
    return None if amount is None or divisor is None else amount / divisor


def monthly_amount(item: Payload, subscription: Payload | None = None) -> float | None:
    """One item's recurring amount per month in minor units, net of tax: 0 if metered, None if unknown."""
    recurring = recurring_of(price_of(item))
    if recurring.get("usage_type") == "metered":
        return 0.0
    factor = _months_factor(recurring)
    if factor is None:
        return None
    amount = period_amount(item, subscription)
    return None if amount is None else _item_discount(amount * factor, item, subscription or {})


def main_item(subscription: Payload) -> Mapping[str, Any] | None:
    """The item with the largest monthly amount (the first of equals); None without items."""
    items = subscription_items(subscription)
    return max(items, key=lambda item: monthly_amount(item, subscription) or 0.0) if items else None


def coupons(holder: Payload) -> list[Mapping[str, Any]] | None:
    """Expanded coupons of the discounts in every API shape, each discount once; None if one is only an id."""
    discounts = [holder.get("discount"), *(holder.get("discounts") or [])]
    seen: set[str] = set()
    coupons = []
    for discount in discounts:
        if isinstance(discount, str):
            return None  # basil+ webhooks list discount ids: the coupon's duration is unknown
        coupon = _path(discount, "coupon") or _path(discount, "source", "coupon")
        if isinstance(coupon, str):
            return None
        key = _id(discount) or _id(coupon) or ""
        if isinstance(coupon, Mapping) and key not in seen:
            seen.add(key)
            coupons.append(coupon)
    return coupons


def _currency(coupon: Payload, default: str) -> str:
    return str(coupon.get("currency") or default).lower()


def amount_off_in(coupon: Payload, currency: str) -> float | None:
    """A coupon's amount off in `currency` (minor units): its own in that currency, else its `currency_options`
    entry (present when the coupon was retrieved with `expand[]=currency_options`); None when not known."""
    if _currency(coupon, currency) == currency.lower():
        return _number(coupon.get("amount_off"))
    return _number(_path(coupon, "currency_options", currency.lower(), "amount_off"))


def _unknown_amounts(found: list[Mapping[str, Any]], currency: str) -> list[Mapping[str, Any]]:
    """The forever amount-off coupons whose amount in `currency` is not known."""
    return [coupon for coupon in found if coupon.get("duration") == "forever" and not _number(coupon.get(
        "percent_off")) and _number(coupon.get("amount_off")) and amount_off_in(coupon, currency) is None]


def _apply_coupons(total: float, found: list[Mapping[str, Any]], factor: float | None, currency: str,
                   divisor: float = 1.0) -> float | None:
    """Forever coupons only (Stripe's MRR); `amount_off` is per invoice, so spread over the interval, and taken
    off a tax-inclusive amount before its tax is removed (so divided by the same `divisor`); None when an amount
    off in another currency has no amount in this one."""
    if _unknown_amounts(found, currency):
        return None
    for coupon in found:
        if coupon.get("duration") != "forever":
            continue
        if _number(coupon.get("percent_off")):
            total *= 1 - float(coupon["percent_off"]) / 100
        elif _number(coupon.get("amount_off")) and factor:
            total -= (amount_off_in(coupon, currency) or 0.0) * factor / divisor
    return max(total, 0.0)


def _discounted(total: float, subscription: Payload) -> float | None:
    """Apply the subscription's forever coupons, spreading `amount_off` over the main item's interval."""
    found = coupons(subscription)
    if found is None:
        return None
    main = main_item(subscription)
    factor = _months_factor(recurring_of(price_of(main))) if main else None
    divisor = inclusive_tax_divisor(main, subscription) if main else 1.0
    return _apply_coupons(total, found, factor, str(subscription.get("currency") or ""), divisor or 1.0)


def mrr_gaps(subscription: Payload) -> list[str]:
    """Why the subscription's MRR cannot be known from the payload (empty when it can)."""
    gaps = [gap for item in subscription_items(subscription) if (gap := item_gap(item, subscription))]
    if coupons(subscription) is None:
        gaps.append(f"subscription {subscription.get('id')} has a discount that is not expanded")
    currency = str(subscription.get("currency") or "")
    for coupon in _unknown_amounts(coupons(subscription) or [], currency):
        gaps.append(f"coupon {coupon.get('id') or '?'} is in {str(coupon.get('currency') or '?').upper()}: its "
                    f"amount in {currency.upper() or '?'} needs its currency_options (STRIPE_API_KEY)")
    return gaps


def list_mrr(subscription: Payload) -> float | None:
    """MRR in major units (2 decimals) whatever the status; None when the payload cannot tell (`mrr_gaps`)."""
    amounts = [monthly_amount(item, subscription) for item in subscription_items(subscription)]
    if any(amount is None for amount in amounts):
        return None
    total = _discounted(sum(amount or 0.0 for amount in amounts), subscription)
    if total is None:
        return None
    major = money.to_major(total, subscription.get("currency"))
    return money.round_half_up(major or 0.0)


def subscription_mrr(subscription: Payload) -> float | None:
    """MRR in major units (2 decimals): `list_mrr` while active or past due, else 0."""
    if subscription.get("status") not in MRR_STATUSES:
        return 0.0
    return list_mrr(subscription)


def tiered_price_ids(subscription: Payload) -> list[str]:
    """The ids of the subscription's licensed tiered prices whose tiers the payload lacks."""
    prices = [price_of(item) for item in subscription_items(subscription)]
    return [str(price["id"]) for price in prices if price.get("billing_scheme") == "tiered"
            and not price.get("tiers") and recurring_of(price).get("usage_type") != "metered" and price.get("id")]


def main_price(subscription: Payload) -> Mapping[str, Any]:
    """The main item's price (or legacy plan); empty without items."""
    return price_of(main_item(subscription) or {})


def plan_name(subscription: Payload) -> str | None:
    """The main price's `metadata.pendo_plan`, its product's name (when expanded by the price look-up),
    lookup key, nickname, else its id."""
    return price_plan_name(main_price(subscription))


def price_plan_name(price: Payload) -> str | None:
    """A price's `metadata.pendo_plan`, its product's name (when expanded), lookup key, nickname, else its id."""
    for candidate in (_metadata(price).get("pendo_plan"), _path(price, "product", "name")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    for key in ("lookup_key", "nickname", "id"):
        if isinstance(price.get(key), str) and price[key]:
            return str(price[key])
    return None


def plan_gap(price: Payload) -> str | None:
    """Why a price's plan name is only its id: it has no name of its own and its product is not expanded."""
    if price_plan_name(price) != price.get("id") or not isinstance(price.get("product"), str):
        return None
    return (f"price {price.get('id')} has no nickname or lookup key: its product's name needs the product "
            "look-up (STRIPE_API_KEY)")


def unnamed_product_ids(subscription: Payload) -> list[str]:
    """The products whose names the subscription's plan names need (`plan_gap`)."""
    return sorted({str(price_of(item)["product"]) for item in subscription_items(subscription)
                   if plan_gap(price_of(item))})


def with_products(subscription: Payload, products: Payload | None) -> Payload:
    """The subscription with each looked-up product in place of its id on the prices (for the plan name)."""
    items = subscription_items(subscription)
    if not products or not items:
        return subscription
    merged = [{**item, "price": {**price_of(item), "product": products[str(price_of(item).get("product"))]}}
              if isinstance(products.get(str(price_of(item).get("product"))), Mapping) else item for item in items]
    return {**subscription, "items": {**(subscription.get("items") or {}), "data": merged}}


def seats(subscription: Payload) -> int | None:
    """The main item's quantity."""
    quantity = _number((main_item(subscription) or {}).get("quantity"))
    return None if quantity is None else int(quantity)


def interval(subscription: Payload) -> str | None:
    """The main item's billing interval (day, week, month, year)."""
    found = recurring_of(price_of(main_item(subscription) or {})).get("interval")
    return found if isinstance(found, str) else None


def with_prices(subscription: Payload, prices: Payload | None) -> Payload:
    """The subscription with each item's price replaced by the looked-up one (tiers, product) when known.

    Prices are immutable in what MRR reads (amounts, tiers, recurrence), so a cached look-up is safe.
    """
    items = subscription_items(subscription)
    if not prices or not items:
        return subscription
    merged = [{**item, "price": {**price_of(item), **prices[_id(price_of(item)) or ""]}}
              if isinstance(prices.get(_id(price_of(item)) or ""), Mapping) else item for item in items]
    return {**subscription, "items": {**(subscription.get("items") or {}), "data": merged}}


# The customer's `discount`, laid into a subscription when its customer is known.
CUSTOMER_DISCOUNT = "customer_discount"


UNKNOWN_CUSTOMER = {"unknown": True}  # `customer_discount` of an event whose customer was looked for and not found


def with_customer(subscription: Payload, customer: Any) -> Payload:
    """The subscription of an event with its customer's `discount` under `customer_discount` (null: the customer
    has none), or `UNKNOWN_CUSTOMER` when the event's customer is not known — which MRR then cannot rule out
    (`customer_discount_of`). A subscription that already says (a stored snapshot) is left as it is."""
    if CUSTOMER_DISCOUNT in subscription or not _id(subscription.get("customer")):
        return subscription
    if not isinstance(customer, Mapping) or customer.get("id") != _id(subscription.get("customer")):
        return {**subscription, CUSTOMER_DISCOUNT: UNKNOWN_CUSTOMER}
    return {**subscription, CUSTOMER_DISCOUNT: None if customer.get("deleted") else customer.get("discount")}


def customer_discount_of(subscription: Payload) -> tuple[list[Mapping[str, Any]], str | None]:
    """The customer-wide coupons that apply to the subscription, or why they cannot be known.

    Stripe applies a customer's discount only to subscriptions without a discount of their own
    (docs.stripe.com/api/customers/object#customer_object-discount; docs.stripe.com/billing/subscriptions/coupons).
    """
    if subscription.get("discount") or subscription.get("discounts"):
        return [], None
    if subscription.get(CUSTOMER_DISCOUNT) == UNKNOWN_CUSTOMER:
        customer = _id(subscription.get("customer")) or "?"
        return [], (f"customer {customer} is not known, so a customer-wide coupon cannot be ruled out "
                    "(its customer.* event, or STRIPE_API_KEY to look it up)")
    found = coupons({"discount": subscription.get(CUSTOMER_DISCOUNT)})  # absent: not looked for (a listing)
    if found is None:
        return [], f"customer {_id(subscription.get('customer')) or '?'} has a discount that is not expanded"
    return found, None


def _holders(subscription: Payload) -> list[Payload]:
    """What may hold discounts: the subscription, its items and its customer's discount laid in."""
    customer = subscription.get(CUSTOMER_DISCOUNT)
    return [subscription, *subscription_items(subscription),
            *([{"discount": customer}] if isinstance(customer, Mapping) else [])]


def foreign_coupon_ids(subscription: Payload) -> list[str]:
    """The forever amount-off coupons in another currency than the subscription's whose amount in it the payload
    lacks (no `currency_options`): what a coupon look-up with `expand[]=currency_options` gives."""
    currency = str(subscription.get("currency") or "")
    found = [coupon for holder in _holders(subscription) for coupon in _unknown_amounts(coupons(holder) or [],
                                                                                        currency)]
    return sorted({str(coupon["id"]) for coupon in found if isinstance(coupon.get("id"), str)})


def _with_coupon(discount: Any, fetched: Payload) -> Any:
    if not isinstance(discount, Mapping):
        return discount
    coupon = discount.get("coupon")
    if isinstance(coupon, Mapping) and isinstance(fetched.get(str(coupon.get("id"))), Mapping):
        return {**discount, "coupon": {**coupon, **fetched[str(coupon.get("id"))]}}
    source = discount.get("source")
    inner = source.get("coupon") if isinstance(source, Mapping) else None
    if isinstance(source, Mapping) and isinstance(inner, Mapping) and isinstance(fetched.get(str(inner.get("id"))),
                                                                                 Mapping):
        return {**discount, "source": {**source, "coupon": {**inner, **fetched[str(inner.get("id"))]}}}
    return discount


def _with_coupons_on(holder: Payload, fetched: Payload) -> dict[str, Any]:
    found = dict(holder)
    if "discount" in found:
        found["discount"] = _with_coupon(found["discount"], fetched)
    if isinstance(found.get("discounts"), list):
        found["discounts"] = [_with_coupon(discount, fetched) for discount in found["discounts"]]
    return found


def with_coupons(subscription: Payload, fetched: Payload | None) -> Payload:
    """The subscription with the coupons looked up (with their `currency_options`) in place of the payload's."""
    if not fetched:
        return subscription
    found = _with_coupons_on(subscription, fetched)
    items = subscription_items(subscription)
    if items:
        found["items"] = {**(subscription.get("items") or {}),
                          "data": [_with_coupons_on(item, fetched) for item in items]}
    if isinstance(subscription.get(CUSTOMER_DISCOUNT), Mapping):
        found[CUSTOMER_DISCOUNT] = _with_coupon(subscription[CUSTOMER_DISCOUNT], fetched)
    return found


def cancels_at(subscription: Payload) -> int | None:
    """When a scheduled cancellation takes effect: `cancel_at` (the portal sets it), else the period end."""
    found = _number(subscription.get("cancel_at"))
    if found is not None:
        return int(found)
    return period_end(subscription) if subscription.get("cancel_at_period_end") else None


def collection_paused(subscription: Payload) -> bool:
    """Whether billing is paused: status `paused` (trial ended without a payment method) or `pause_collection`."""
    return subscription.get("status") == "paused" or isinstance(subscription.get("pause_collection"), Mapping)


def refund_amount(charge: Payload, previous: Payload) -> int | None:
    """The amount (minor units) of the refund this `charge.refunded` event is about, not the running total."""
    total = _number(charge.get("amount_refunded"))
    before = _number(previous.get("amount_refunded"))
    if total is not None and before is not None:
        return int(total - before)
    refunds = [r for r in _path(charge, "refunds", "data") or [] if isinstance(r, Mapping)]
    if refunds:
        return int(_number(max(refunds, key=lambda r: _number(r.get("created")) or 0).get("amount")) or 0)
    return None if total is None else int(total)


def metadata_chain(payload_object: Payload, enrichment: Payload) -> list[Mapping[str, Any]]:
    """Where ids are looked for, in order: the object, its subscription, its customer."""
    chain = [_metadata(payload_object)]
    if payload_object.get("object") == "invoice":
        chain.append(subscription_metadata_of_invoice(payload_object))
    chain.append(_metadata(enrichment.get("subscription")))
    chain.append(_metadata(enrichment.get("customer")))
    chain.append(_metadata(payload_object.get("customer")))
    return chain


def _linked_account(payload_object: Payload, enrichment: Payload) -> str | None:
    """The account of the customer link table, else a checkout session's `client_reference_id`."""
    for value in (_path(enrichment, "link", "account_id"), enrichment.get("link"),
                  payload_object.get("client_reference_id") if payload_object.get("object") == "checkout.session"
                  else None):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def first(chain: Sequence[Mapping[str, Any]], key: str) -> str | None:
    for metadata in chain:
        value = metadata.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def object_customer_id(payload_object: Payload) -> str | None:
    if payload_object.get("object") == "customer":
        return _id(payload_object)
    return _id(payload_object.get("customer"))


def enriched_customer_id(enrichment: Payload) -> str | None:
    """The customer the enrichment found for an object without one: the looked-up customer, else the charge's."""
    return _id(enrichment.get("customer")) or _id(_path(enrichment, "charge", "customer"))


def email_of(payload_object: Payload, enrichment: Payload) -> str | None:
    """The customer's email: the looked-up customer's, the object's own (a customer), the expanded customer's,
    else an invoice's `customer_email`."""
    for value in (
        _path(enrichment, "customer", "email"),
        payload_object.get("email") if payload_object.get("object") == "customer" else None,
        _path(payload_object, "customer", "email"),
        payload_object.get("customer_email"),
    ):
        if isinstance(value, str) and value:
            return value
    return None


def _fallback_visitor(
    payload_object: Payload, enrichment: Payload, customer_id: str | None, visitor_fallback: str,
    synthetic_prefix: str,
) -> str | None:
    if visitor_fallback == "synthetic":
        return synthetic_prefix + customer_id if customer_id else None
    if visitor_fallback == "email":
        return email_of(payload_object, enrichment)
    return None


def resolve_identity(
    payload_object: Payload, event_type: str, enrichment: Payload, *, account_fallback: str,
    visitor_fallback: str, synthetic_prefix: str,
) -> dict[str, Any]:
    """The Pendo account and visitor behind a Stripe object: metadata first, then the customer link table
    (`enrichment["link"]`) or checkout's `client_reference_id`, then the configured fallbacks. An object without
    a customer (a dispute) takes the one the enrichment found through its charge."""
    del event_type  # a customer object's own metadata is already first in the chain
    chain = metadata_chain(payload_object, enrichment)
    customer_id = object_customer_id(payload_object) or enriched_customer_id(enrichment)
    account_id = first(chain, "pendo_account_id")
    source: str | None = "metadata"
    if account_id is None and (linked := _linked_account(payload_object, enrichment)) is not None:
        account_id, source = linked, "link"
    if account_id is None:
        fallback = account_fallback == "stripe_customer" and customer_id is not None
        account_id, source = (customer_id, "fallback") if fallback else (None, None)
    visitor_id = first(chain, "pendo_visitor_id") or _fallback_visitor(
        payload_object, enrichment, customer_id, visitor_fallback, synthetic_prefix
    )
    return {"account_id": account_id, "account_source": source, "visitor_id": visitor_id,
            "customer_id": customer_id}


def _type_rank(event_type: str) -> int:
    if event_type in EVENT_TYPE_RANKS:
        return EVENT_TYPE_RANKS[event_type]
    suffix = "." + event_type.rsplit(".", 1)[-1]
    return EVENT_SUFFIX_RANKS.get(suffix, UNKNOWN_TYPE_RANK)


def tie_rank(event_type: str, status: str | None) -> int:
    """The rank breaking a tie between events of the same second: event type first, then status."""
    return _type_rank(event_type) * 100 + STATUS_RANKS.get(status or "", 0)
