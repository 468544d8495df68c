"""Polar's recurring amount before its discount (pure).

Polar's subscription `amount` is the sum of its prices *minus* its current discount (server
`Subscription.update_amount_and_currency`): a fixed discount takes `min(discount, amount)`, a percentage
`basis_points / 10000` of the amount rounded half away from zero (`polar.kit.math.polar_round`). The model wants
the amount before discounts, so it is worked back: the amount the listed prices give when Polar's discount turns it
into `amount`, else the one amount that does; when several do, or none, it is unknown and says why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bridge.providers.values import mapping


def gross_amount(raw: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """The recurring amount before the discount, in minor units, or None and why it cannot be known.

    Without a discount it is Polar's `amount`. With one, it is the amount Polar's discount turns into `amount`:
    the one such amount, or, when several round to it, the one the listed prices give; else unknown."""
    amount = _int(raw.get("amount"))
    if amount is None:
        return None, "Polar gave no amount"
    discount = raw.get("discount")
    if not isinstance(discount, Mapping):
        return amount, None
    off = _discount_rule(discount, raw.get("currency"))
    if off is None:
        return None, "the discount is of a kind, or in a currency, bridge cannot take out of Polar's amount"
    listed = listed_amount(raw)
    if listed is not None and listed - off(listed) == amount:
        return listed, None
    found = [gross for gross in _near(amount, discount, raw.get("currency")) if gross - off(gross) == amount]
    if len(found) == 1:
        return found[0], None
    return None, "several amounts before the discount give Polar's amount, and the prices do not tell which"


def _discount_rule(discount: Mapping[str, Any], currency: object) -> Callable[[int], int] | None:
    """What Polar's discount takes off an amount (server `Discount.get_discount_amount`); None when unknown."""
    if discount.get("type") == "fixed":
        fixed = fixed_off(discount, currency)
        return None if fixed is None else (lambda gross: min(fixed, gross))
    points = _int(discount.get("basis_points"))
    if discount.get("type") == "percentage" and points is not None and 0 <= points <= 10_000:
        return lambda gross: _polar_off(gross, points)
    return None


def _near(amount: int, discount: Mapping[str, Any], currency: object) -> range:
    """The amounts before the discount worth trying: those a few units around the exact inverse."""
    if discount.get("type") == "fixed":
        fixed = fixed_off(discount, currency) or 0
        return range(amount + fixed, amount + fixed + 1) if amount > 0 else range(0)
    points = _int(discount.get("basis_points"))
    if points is None or points >= 10_000:
        return range(0)
    guess = amount * 10_000 // (10_000 - points)
    return range(max(0, guess - 2), guess + 4)


def listed_amount(raw: Mapping[str, Any]) -> int | None:
    """The recurring amount the subscription's prices list (fixed, free, seat-based; metered ones add nothing);
    None when a price's amount is not in the payload (pay-what-you-want, or a kind bridge does not know)."""
    total = 0
    for price in raw.get("prices") or []:
        kind = price.get("amount_type") if isinstance(price, Mapping) else None
        if kind == "fixed" and _is_int(price.get("price_amount")):
            total += price["price_amount"]
        elif kind == "seat_based":
            seats = _seat_amount(price.get("seat_tiers"), raw.get("seats"))
            if seats is None:
                return None
            total += seats
        elif kind not in ("free", "metered_unit"):
            return None
    return total


def _seat_amount(seat_tiers: object, seats: object) -> int | None:
    """Seats priced by their tiers: volume (every seat at the tier the count falls in) or graduated (each tier
    for its own seats); None when the tiers are not readable."""
    tiers = mapping(seat_tiers).get("tiers")
    count = _int(seats)
    if not isinstance(tiers, list) or count is None:
        return None
    read = [(_int(t.get("min_seats")) or 1, _int(t.get("max_seats")), _int(t.get("price_per_seat")))
            for t in tiers if isinstance(t, Mapping)]
    if len(read) != len(tiers) or any(each is None for _, _, each in read):
        return None
    read.sort(key=lambda tier: tier[0])
    if mapping(seat_tiers).get("seat_tier_type", "volume") == "volume":
        return next((count * (each or 0) for low, top, each in read
                     if low <= count and (top is None or count <= top)), None)
    return sum(max(0, min(count, count if top is None else top) - low + 1) * (each or 0) for low, top, each in read)


def _polar_off(gross: int, points: int) -> int:
    """Polar's percentage discount on `gross`: the float product rounded half away from zero (kit.math)."""
    off = gross * (points / 10_000)
    whole = int(off)
    return whole + 1 if off - whole >= 0.5 else whole


def fixed_off(discount: Mapping[str, Any], currency: object) -> int | None:
    """A fixed discount's amount in the subscription's currency (`amounts` per currency, else `amount`)."""
    if not isinstance(currency, str):
        return None
    amounts = mapping(discount.get("amounts"))
    value = amounts.get(currency.lower(), amounts.get(currency.upper()))
    if value is None and str(discount.get("currency", "")).lower() == currency.lower():
        value = discount.get("amount")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
