"""MRR from the billing model (pure): one set of rules for every provider (docs/billing.md cites their source).

MRR is the monthly-normalised recurring value of
**active and past_due** subscriptions; trials, metered (usage-based) lines and taxes are out. Each line's
amount per billing period becomes a month's: a year ÷ 12, a week times 52/12, a day times 365/12, all ÷ its
`interval_count`. A discount counts while it lasts (forever, or not yet ended at `at`); a line's own discounts
apply to it, the others to the whole subscription, an amount off spread over the main line's interval. The
provider's own published `mrr` wins when it gives one. What cannot be known gives None with the reasons: never
a guess. The result is rounded to the currency's minor unit, then to 2 decimals. See docs/billing.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from bridge.billing import money
from bridge.billing.model import Discount, Item, Subscription

COUNTED_STATUSES = frozenset({"active", "past_due"})
# (numerator, denominator) of how many times a month one interval comes round.
PER_MONTH = {"month": (1, 1), "year": (1, 12), "week": (52, 12), "day": (365, 12)}
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Monthly:
    """An MRR figure, or None with why it cannot be known."""

    amount: Decimal | None
    gaps: tuple[str, ...] = ()


def per_month(interval: str | None, interval_count: int = 1) -> Decimal | None:
    """How many times per month something billed every `interval_count` `interval`s is billed; None if unknown."""
    found = PER_MONTH.get(interval or "")
    if found is None or interval_count <= 0:
        return None
    return Decimal(found[0]) / Decimal(found[1] * interval_count)


def _line_gap(item: Item) -> str | None:
    if item.metered or item.amount is not None:
        return None
    return item.gap or f"price {item.price_id or '?'} has no known amount"


def _counts(discount: Discount, at: float | None) -> bool:
    return discount.ends_at is None or at is None or discount.ends_at > at


def _apply(total: Decimal, discounts: list[Discount], factor: Decimal | None, currency: str | None,
           tax_divisor: Decimal = Decimal(1)) -> Decimal:
    """Percentages multiply; an amount off (per billing period) is made monthly with `factor`, same currency only,
    and net of the tax a tax-inclusive price included: it comes off the inclusive amount, then the tax is
    removed — $120 inclusive of 20 % with $12 off is (120 - 12) / 1.2 = 90."""
    for discount in discounts:
        if discount.percent_off:
            total *= 1 - discount.percent_off / 100
        elif discount.amount_off and factor and (discount.currency or currency) == currency:
            total -= discount.amount_off * factor / tax_divisor
    return max(total, Decimal(0))


def _own(subscription: Subscription, item: Item, at: float | None) -> list[Discount]:
    return [d for d in subscription.discounts if item.price_id in d.price_ids and _counts(d, at)]


def line_monthly(subscription: Subscription, item: Item, at: float | None = None) -> Decimal | None:
    """One line's monthly amount after its own discounts: 0 when metered, None when unknown."""
    if item.metered:
        return Decimal(0)
    factor = per_month(item.interval, item.interval_count)
    if item.amount is None or factor is None:
        return None
    return _apply(item.amount * factor, _own(subscription, item, at), factor,
                  item.currency or subscription.currency, item.tax_divisor)


def main_item(subscription: Subscription, at: float | None = None) -> Item | None:
    """The line with the largest monthly amount (the first of equals): plan, seats and interval come from it."""
    if not subscription.items:
        return None
    return max(subscription.items, key=lambda item: line_monthly(subscription, item, at) or Decimal(0))


def _shared_divisor(subscription: Subscription) -> Decimal | None:
    """The tax divisor of the lines a whole-subscription amount off is taken from; None when they differ."""
    found = {item.tax_divisor for item in subscription.items if not item.metered}
    return next(iter(found)) if len(found) == 1 else (Decimal(1) if not found else None)


def gaps(subscription: Subscription) -> tuple[str, ...]:
    """Why the subscription's list MRR cannot be known (empty when it can)."""
    if subscription.mrr is not None:
        return ()
    mixed_tax = _shared_divisor(subscription) is None and any(
        d.amount_off and not d.price_ids for d in subscription.discounts)
    return (*(gap for item in subscription.items if (gap := _line_gap(item))), *subscription.gaps,
            *([f"subscription {subscription.id} has an amount off over lines with different inclusive taxes"]
              if mixed_tax else []), *_currency_gaps(subscription))


def _currency_gaps(subscription: Subscription) -> list[str]:
    """An amount off in another currency than what it is taken from: its amount there is not known."""
    found = []
    for discount in subscription.discounts:
        lines = [item for item in subscription.items if item.price_id in discount.price_ids]
        currencies = {item.currency or subscription.currency for item in lines} or {subscription.currency}
        if discount.amount_off and discount.currency and currencies != {discount.currency}:
            found.append(f"an amount off of {discount.amount_off} {discount.currency} on a subscription in "
                         f"{', '.join(sorted(c or '?' for c in currencies))}: its amount there is not known")
    return found


def _round(amount: Decimal, currency: str | None) -> Decimal:
    minor = amount.quantize(Decimal(1).scaleb(-money.exponent(currency)), rounding=ROUND_HALF_UP)
    return minor.quantize(CENT, rounding=ROUND_HALF_UP)


def list_mrr(subscription: Subscription, at: float | None = None) -> Monthly:
    """The subscription's MRR whatever its status (for plan changes and what a cancellation lost)."""
    if subscription.mrr is not None:
        return Monthly(subscription.mrr)
    missing = gaps(subscription)
    if missing:
        return Monthly(None, missing)
    lines = [line_monthly(subscription, item, at) or Decimal(0) for item in subscription.items]
    main = main_item(subscription, at)
    factor = per_month(main.interval, main.interval_count) if main else None
    shared = [d for d in subscription.discounts if not d.price_ids and _counts(d, at)]
    total = _apply(sum(lines, Decimal(0)), shared, factor, subscription.currency,
                   _shared_divisor(subscription) or Decimal(1))
    return Monthly(_round(total, subscription.currency))


def mrr(subscription: Subscription, at: float | None = None) -> Monthly:
    """The subscription's MRR: its list MRR while active or past due, else 0 (the provider's own figure wins)."""
    if subscription.mrr is not None:
        return Monthly(subscription.mrr)
    if subscription.status not in COUNTED_STATUSES:
        return Monthly(Decimal(0))
    return list_mrr(subscription, at)
