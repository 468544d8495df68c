"""A Chargebee subscription's priced lines and discounts in the model's terms (pure).

Product Catalog 2.0 subscriptions list `subscription_items` (an item price id, quantity, unit price and the line's
`amount` per billing period, all in the currency's minor unit, or `*_in_decimal` strings in major units with
multi-decimal pricing). Product Catalog 1.0 subscriptions carry `plan_id`, `plan_quantity`, `plan_unit_price`,
`plan_amount` and an `addons` list instead. Both are read; whatever a line does not give is None with a gap
line, never guessed. One-time charges (`item_type: charge`, `charge_once`) are not recurring and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge.billing import money
from bridge.billing.model import INTERVALS, Discount, Item

Raw = Mapping[str, Any]


def minor_to_major(amount: object, currency: str | None) -> Decimal | None:
    """An integer amount in the currency's minor unit as a Decimal in major units; None when it is not one."""
    if not isinstance(amount, int) or isinstance(amount, bool):
        return None
    return Decimal(amount).scaleb(-money.exponent(currency))


def decimal_text(value: object) -> Decimal | None:
    """A `*_in_decimal` string (major units) as a Decimal; None when absent or not a finite number."""
    if not isinstance(value, str):
        return None
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def items(subscription: Raw, currency: str | None) -> tuple[tuple[Item, ...], tuple[str, ...]]:
    """The recurring lines (PC 2.0 `subscription_items`, else the PC 1.0 plan and addons) and their gaps."""
    lines = subscription.get("subscription_items")
    if isinstance(lines, list) and lines:
        found = [_pc2_item(line, subscription, currency) for line in lines if _recurring(line)]
    elif isinstance(subscription.get("plan_id"), str):
        found = [_pc1_plan(subscription, currency)]
        addons = subscription.get("addons")
        found += [_pc1_addon(addon, subscription, currency)
                  for addon in (addons if isinstance(addons, list) else []) if isinstance(addon, Mapping)]
    else:
        return (), ("the subscription lists no items (neither subscription_items nor plan_id)",)
    return tuple(found), tuple(item.gap for item in found if item.gap)


def discounts(subscription: Raw, currency: str | None) -> tuple[tuple[Discount, ...], tuple[str, ...]]:
    """The discounts Chargebee counts in MRR (`included_in_mrr`), and a gap for coupons without amounts."""
    listed = subscription.get("discounts")
    found = []
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, Mapping) and entry.get("included_in_mrr") is True:
            found.append(_discount(entry, currency))
    gaps: tuple[str, ...] = ()
    coupons = subscription.get("coupons") or subscription.get("coupon")
    if coupons and not isinstance(listed, list):
        gaps = ("coupons are applied, but their amounts are not in the payload",)
    return tuple(found), gaps


def _recurring(line: object) -> bool:
    if not isinstance(line, Mapping):
        return False
    return line.get("item_type") != "charge" and line.get("charge_once") is not True


def _period(line: Raw, subscription: Raw) -> tuple[str | None, int, str | None]:
    """The line's billing period (its own, else the subscription's): interval, count, and a gap if unknown."""
    unit = line.get("billing_period_unit") or subscription.get("billing_period_unit")
    count = line.get("billing_period") or subscription.get("billing_period") or 1
    if unit not in INTERVALS or not isinstance(count, int) or isinstance(count, bool) or count < 1:
        return None, 1, "its billing period is not in the payload"
    return str(unit), count, None


def _quantity(whole: object, text: object) -> int | None:
    if isinstance(whole, int) and not isinstance(whole, bool):
        return whole
    number = decimal_text(text)
    return int(number) if number is not None and number == number.to_integral_value() else None


def _line_amount(line: Raw, prefix: str, quantity: int | None, currency: str | None) -> Decimal | None:
    """The line total per period: `amount`, else `amount_in_decimal`, else unit price times quantity (no free units)."""
    total = minor_to_major(line.get(f"{prefix}amount"), currency)
    if total is None:
        total = decimal_text(line.get(f"{prefix}amount_in_decimal"))
    if total is not None:
        return total
    free = line.get(f"{prefix}free_quantity")
    if quantity is None or (isinstance(free, int) and free > 0):
        return None
    unit = minor_to_major(line.get(f"{prefix}unit_price"), currency)
    if unit is None:
        unit = decimal_text(line.get(f"{prefix}unit_price_in_decimal"))
    return unit * quantity if unit is not None else None


def _pc2_item(line: Raw, subscription: Raw, currency: str | None) -> Item:
    price_id = line.get("item_price_id") if isinstance(line.get("item_price_id"), str) else None
    interval, count, period_gap = _period(line, subscription)
    quantity = _quantity(line.get("quantity"), line.get("quantity_in_decimal"))
    if "metered_quantity" in line or "usage_accumulation_reset_frequency" in line:
        return Item(price_id, price_id, None, currency, interval, count, quantity, metered=True)
    amount = _line_amount(line, "", quantity, currency)
    gap = _gap(price_id, amount, period_gap)
    return Item(price_id, price_id, amount, currency, interval, count, quantity, gap=gap)


def _pc1_plan(subscription: Raw, currency: str | None) -> Item:
    plan_id = str(subscription["plan_id"])
    interval, count, period_gap = _period({}, subscription)
    quantity = _quantity(subscription.get("plan_quantity", 1), subscription.get("plan_quantity_in_decimal"))
    amount = _line_amount(subscription, "plan_", quantity, currency)
    return Item(plan_id, plan_id, amount, currency, interval, count, quantity, gap=_gap(plan_id, amount, period_gap))


def _pc1_addon(addon: Raw, subscription: Raw, currency: str | None) -> Item:
    """A PC 1.0 recurring addon, billed with the subscription's period."""
    addon_id = addon.get("id") if isinstance(addon.get("id"), str) else None
    interval, count, period_gap = _period({}, subscription)
    quantity = _quantity(addon.get("quantity", 1), addon.get("quantity_in_decimal"))
    amount = _line_amount(addon, "", quantity, currency)
    return Item(addon_id, addon_id, amount, currency, interval, count, quantity,
                gap=_gap(addon_id, amount, period_gap))


def _gap(price_id: str | None, amount: Decimal | None, period_gap: str | None) -> str | None:
    reasons = [reason for reason in (
        "its amount is not in the payload" if amount is None else None, period_gap) if reason]
    return f"item {price_id or '?'}: {' and '.join(reasons)}" if reasons else None


def _discount(entry: Raw, currency: str | None) -> Discount:
    apply_till = entry.get("apply_till")
    ends_at = float(apply_till) if isinstance(apply_till, int) and not isinstance(apply_till, bool) else None
    price = entry.get("item_price_id")
    price_ids = (price,) if isinstance(price, str) and entry.get("apply_on") == "specific_item_price" else ()
    if entry.get("type") == "percentage":
        percent = entry.get("percentage")
        percent_off = Decimal(str(percent)) if isinstance(percent, int | float) and not isinstance(percent, bool) \
            else None
        return Discount(percent_off=percent_off, ends_at=ends_at, price_ids=price_ids)
    own = entry.get("currency_code")
    code = own.upper() if isinstance(own, str) else currency
    return Discount(amount_off=minor_to_major(entry.get("amount"), code), currency=code, ends_at=ends_at,
                    price_ids=price_ids)
