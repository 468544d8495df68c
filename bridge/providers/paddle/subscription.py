"""A Paddle subscription entity in the billing model's terms (pure).

What the entity cannot tell is left `None` with a line in `gaps`, never guessed:
- a price with country overrides (`unit_price_overrides`) in the subscription's currency, when the customer's
  address is not known: the customer may pay the override, so the line's amount is withheld;
- a price in another currency than the subscription's: Paddle converts it at its own rate, so withheld;
- a price that includes tax (`tax_mode` `internal`, or `location`): the rate is not in the payload;
- the subscription's discount: the webhook names it (`id`, `starts_at`, `ends_at`) but not its amount or
  type, so unless the discount entity is handed in it is a `Discount` with neither `percent_off` nor
  `amount_off`, which the core reads as unknown.
One-time charges (`recurring: false`) and inactive items are not recurring lines and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bridge.billing.model import INTERVALS, STATUSES, Discount, Item, Subscription
from bridge.providers.paddle.fields import CURRENCIES, major, rfc3339
from bridge.providers.values import currency_code, mapping, text, whole

NAME = "paddle"
# `internal` prices include tax; `location` ones do where the customer's country expects it. `external` ones
# exclude it, and `account_setting` ones follow the account's setting, which no payload shows: read as
# exclusive, as the Stripe package reads a price without a tax behaviour (see docs/providers/paddle.md).
TAX_INCLUSIVE = ("internal", "location")


def subscription(raw: Mapping[str, Any], enrichment: Mapping[str, Any] | None = None) -> Subscription | None:
    """The subscription in the model's terms; None unless `raw` is a Paddle subscription (`sub_…`)."""
    sub_id = text(raw.get("id"))
    if sub_id is None or not sub_id.startswith("sub_"):
        return None
    extra = enrichment or {}
    gaps: list[str] = []
    status = text(raw.get("status"))
    if status not in STATUSES:
        gaps.append(f"subscription {sub_id} has a status this bridge does not know: {status!r}")
        status = None
    currency = currency_code(raw.get("currency_code"))
    country = text(mapping(extra.get("address")).get("country_code"))
    items = tuple(_item(item, currency, country, gaps) for item in _recurring(raw.get("items")))
    discounts = _discounts(raw, extra, items, gaps)
    trial_end = _trial_end(raw, gaps) if status == "trialing" else None
    period = mapping(raw.get("current_billing_period"))
    change = mapping(raw.get("scheduled_change"))
    return Subscription(
        provider=NAME,
        id=sub_id,
        customer_id=text(raw.get("customer_id")),
        status=status,
        items=items,
        discounts=discounts,
        currency=currency,
        created_at=rfc3339(raw.get("created_at")),
        trial_end=trial_end,
        period_end=rfc3339(period.get("ends_at")),
        cancel_at_period_end=_cancel_at_period_end(change, period),
        cancels_at=rfc3339(change.get("effective_at")) if change.get("action") == "cancel" else None,
        canceled_at=rfc3339(raw.get("canceled_at")),
        paused=status == "paused" if status else None,
        resumes_at=_resumes_at(status, change),
        gaps=tuple(gaps),
    )


def _recurring(items: object) -> list[Mapping[str, Any]]:
    """The subscription's recurring, current lines (not one-time charges, not inactive items)."""
    if not isinstance(items, list):
        return []
    return [item for item in items
            if isinstance(item, Mapping) and item.get("recurring") is not False and item.get("status") != "inactive"]


def _item(item: Mapping[str, Any], currency: str | None, country: str | None, gaps: list[str]) -> Item:
    price = mapping(item.get("price"))
    product = mapping(item.get("product"))
    cycle = mapping(price.get("billing_cycle"))
    interval = text(cycle.get("interval"))
    quantity = whole(item.get("quantity"))
    price_id = text(price.get("id"))
    unit, gap = _unit_amount(price, currency, country)
    if unit is not None and quantity is None:
        gap = f"price {price_id}: the item has no quantity"
    if interval not in INTERVALS:
        gaps.append(f"price {price_id} has no billing cycle this bridge knows: {interval!r}")
    if gap:
        gaps.append(gap)
    return Item(
        price_id=price_id,
        plan=text(product.get("name")) or text(price.get("name")) or text(price.get("description")),
        amount=unit * quantity if unit is not None and quantity is not None else None,
        currency=currency,
        interval=interval if interval in INTERVALS else None,
        interval_count=whole(cycle.get("frequency")) or 1,
        quantity=quantity,
        product_id=text(price.get("product_id")) or text(product.get("id")),
        metadata=_strings(price.get("custom_data")),
        gap=gap,
    )


def _unit_amount(price: Mapping[str, Any], currency: str | None,
                 country: str | None) -> tuple[Decimal | None, str | None]:
    """The price per unit the customer pays, or None and why it cannot be known from the entity."""
    price_id = text(price.get("id"))
    if price.get("tax_mode") in TAX_INCLUSIVE:
        return None, (f"price {price_id} may include tax (tax_mode {price.get('tax_mode')}) and the rate is not in "
                      "the payload: its amount is not sent")
    base = mapping(price.get("unit_price"))
    overrides = [mapping(o) for o in price.get("unit_price_overrides") or [] if isinstance(o, Mapping)]
    if country is not None:
        chosen = next((mapping(o.get("unit_price")) for o in overrides
                       if country in (o.get("country_codes") or [])), base)
    elif any(currency_code(mapping(o.get("unit_price")).get("currency_code")) == currency for o in overrides):
        return None, (f"price {price_id} has country overrides in {currency} and the customer's country is not "
                      "known: its amount is not sent")
    else:
        chosen = base
    if currency is None or currency_code(chosen.get("currency_code")) != currency:
        return None, (f"price {price_id} is in another currency than the subscription's: Paddle converts it at "
                      "its own rate, so its amount is not sent")
    if currency not in CURRENCIES:
        return None, f"price {price_id} is in {currency}, a currency Paddle does not list: its amount is not sent"
    amount = major(chosen.get("amount"), currency)
    return amount, None if amount is not None else f"price {price_id} has no readable unit amount"


def _discounts(raw: Mapping[str, Any], extra: Mapping[str, Any], items: tuple[Item, ...],
               gaps: list[str]) -> tuple[Discount, ...]:
    applied = mapping(raw.get("discount"))
    discount_id = text(applied.get("id"))
    if discount_id is None:
        return ()
    ends_at = rfc3339(applied.get("ends_at"))
    entity = mapping(extra.get("discount"))
    if text(entity.get("id")) != discount_id:
        gaps.append(f"discount {discount_id}: its amount is not in the webhook, so mrr is not sent")
        return (Discount(ends_at=ends_at),)
    known = _discount(entity, ends_at, items)
    if known.percent_off is None and known.amount_off is None:
        gaps.append(f"discount {discount_id}: its type or amount is not readable, so mrr is not sent")
    return (known,)


def _discount(entity: Mapping[str, Any], ends_at: float | None, items: tuple[Item, ...]) -> Discount:
    """A Paddle discount entity: `percentage` ("10" is 10 %), `flat` or `flat_per_seat` (minor units)."""
    restrict = set(entity.get("restrict_to") or [])
    targets = [i for i in items if not restrict or i.price_id in restrict or i.product_id in restrict]
    price_ids = tuple(i.price_id for i in targets if i.price_id) if restrict else ()
    kind, amount = entity.get("type"), text(entity.get("amount"))
    if kind == "percentage":
        return Discount(percent_off=_percent(amount), ends_at=ends_at, price_ids=price_ids)
    currency = currency_code(entity.get("currency_code"))
    flat = major(amount, currency)
    if kind == "flat_per_seat" and flat is not None:
        seats = [i.quantity for i in targets]
        flat = flat * sum(q or 0 for q in seats) if all(q is not None for q in seats) else None
    if kind not in ("flat", "flat_per_seat"):
        flat = None
    return Discount(amount_off=flat, currency=currency if flat is not None else None, ends_at=ends_at,
                    price_ids=price_ids)


def _percent(amount: str | None) -> Decimal | None:
    """A percentage discount's amount ("12.5" is 12.5 %), between 0 and 100; None otherwise."""
    try:
        value = Decimal(amount) if amount is not None else None
    except ArithmeticError:
        return None
    return value if value is not None and value.is_finite() and 0 <= value <= 100 else None


def _trial_end(raw: Mapping[str, Any], gaps: list[str]) -> float | None:
    """The latest trial end of the items (each item carries its own `trial_dates`)."""
    ends = [rfc3339(mapping(item.get("trial_dates")).get("ends_at")) for item in _recurring(raw.get("items"))]
    known = [end for end in ends if end is not None]
    if not known:
        gaps.append(f"subscription {raw.get('id')} is trialing but no item has trial dates")
    return max(known) if known else None


def _cancel_at_period_end(change: Mapping[str, Any], period: Mapping[str, Any]) -> bool | None:
    if change.get("action") != "cancel":
        return False
    effective, period_end = rfc3339(change.get("effective_at")), rfc3339(period.get("ends_at"))
    return None if effective is None or period_end is None else effective == period_end


def _resumes_at(status: str | None, change: Mapping[str, Any]) -> float | None:
    if status == "paused" and change.get("action") == "resume":
        return rfc3339(change.get("effective_at"))
    if change.get("action") == "pause":
        return rfc3339(change.get("resume_at"))
    return None


def _strings(value: object) -> dict[str, str]:
    """The string values of a `custom_data` object (nested values are not plan metadata)."""
    return {k: v for k, v in mapping(value).items() if isinstance(k, str) and isinstance(v, str)}
