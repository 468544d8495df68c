"""A Maxio subscription's priced lines in the model's terms: its product, and its components (pure).

The product line is the subscription's `product_price_in_cents` (its price point's price; the product's
`price_in_cents` when absent) every `interval` `interval_unit` (`month` or `day`) of its product. Components
(seats and add-ons: quantity-based, on/off, metered, prepaid and event-based) are not in webhook payloads; with
`MAXIO_API_KEY`, `enrichment` reads the subscription's components and their price points, and each becomes a line:
quantity-based ones `allocated_quantity` times their price point's price (per unit, volume, tiered or stairstep
tiers), on/off ones once when enabled, the usage-based ones metered (left out of MRR). Without them, one line
of unknown amount stands for the components, so MRR is withheld rather than understated.

A product priced 0 with components adds no line of its own: per-seat plans are a free product with a seat
component, and each component line carries the product's name as its plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bridge.billing.model import INTERVALS, Item
from bridge.providers.maxio.values import cents, flag, text, whole
from bridge.providers.values import decimal, mapping

QUANTITY = ("quantity_based_component",)
ON_OFF = ("on_off_component",)
METERED = ("metered_component", "prepaid_usage_component", "event_based_component")
UNKNOWN_COMPONENTS = ("components (seats, add-ons) are not in webhook payloads: set MAXIO_SUBDOMAIN and "
                      "MAXIO_API_KEY to read them")
Raw = Mapping[str, Any]


def items(subscription: Raw, currency: str | None, components: list[Raw] | None,
          price_points: Mapping[str, Raw]) -> tuple[Item, ...]:
    """The product line and the component lines (`components` None: not known, one line of unknown amount)."""
    product = mapping(subscription.get("product"))
    interval, count = period(product)
    plan = text(product.get("name"))
    price = cents(subscription.get("product_price_in_cents"), currency)
    if price is None:
        price = cents(product.get("price_in_cents"), currency)
    lines = [] if price == 0 and components else [Item(
        price_id=text(subscription.get("product_price_point_id")) or text(product.get("product_price_point_id")),
        plan=plan, amount=price, currency=currency, interval=interval, interval_count=count, quantity=1,
        product_id=text(product.get("id")), lookup_key=text(product.get("handle")),
        gap=None if price is not None else "the product's price is not in the payload")]
    if components is None:
        lines.append(Item(price_id=None, plan=plan, amount=None, currency=currency, interval=interval,
                          interval_count=count, quantity=None, gap=UNKNOWN_COMPONENTS))
        return tuple(lines)
    for component in components:
        line = _component(component, price_points, plan, currency, interval, count)
        if line is not None:
            lines.append(line)
    return tuple(lines)


def period(product: Raw) -> tuple[str | None, int]:
    """The product's billing period: (`month` or `day`, count); (None, 1) when it is not readable."""
    unit, count = product.get("interval_unit"), whole(product.get("interval"))
    if unit not in INTERVALS or count is None or count < 1:
        return None, 1
    return str(unit), count


def _component(component: Raw, price_points: Mapping[str, Raw], plan: str | None, currency: str | None,
               interval: str | None, count: int) -> Item | None:
    kind = component.get("kind")
    own_interval, own_count = period(component)
    if own_interval is not None:
        interval, count = own_interval, own_count

    def line(amount: Decimal | None, quantity: int | None, gap: str | None = None, metered: bool = False) -> Item:
        return Item(price_id=text(component.get("price_point_id")), plan=plan, amount=amount, currency=currency,
                    interval=interval, interval_count=count, quantity=quantity, metered=metered,
                    product_id=text(component.get("component_id")),
                    lookup_key=text(component.get("component_handle")), gap=gap)

    if kind in METERED:
        return line(None, None, metered=True)
    if kind in ON_OFF:
        if flag(component.get("enabled")) is not True:
            return None
        quantity = 1
    elif kind in QUANTITY:
        allocated = whole(component.get("allocated_quantity"))
        if allocated is None:
            return line(None, None, "a component's allocated quantity is not a whole number")
        if allocated == 0:
            return None
        quantity = allocated
    else:
        return line(None, None, f"component kind {kind!r} is not one bridge knows")
    point = price_points.get(price_point_key(component))
    amount = tier_amount(mapping(point), quantity) if point is not None else None
    return line(amount, quantity, None if amount is not None else "a component's price point (its prices) is not known")


def price_point_key(component: Raw) -> str:
    """How `enrichment` files a component's price point: `{component_id}:{price_point_id}`."""
    return f"{text(component.get('component_id'))}:{text(component.get('price_point_id'))}"


def tier_amount(point: Raw, quantity: int) -> Decimal | None:
    """The price of `quantity` units under a price point's `pricing_scheme` and `prices` (major units)."""
    read = [_tier(price) for price in point.get("prices") or [] if isinstance(price, Mapping)]
    tiers = sorted(((start, end, unit) for start, end, unit in read if unit is not None), key=lambda tier: tier[0])
    if not tiers or len(tiers) != len(read):
        return None
    scheme = point.get("pricing_scheme")
    if scheme == "per_unit":
        return tiers[0][2] * quantity if len(tiers) == 1 else None
    if scheme == "tiered":
        total = Decimal(0)
        for start, end, unit in tiers:
            top = quantity if end is None else min(end, quantity)
            if top >= start:
                total += unit * (top - start + 1)
        return total
    tier = next((tier for tier in tiers if tier[0] <= quantity and (tier[1] is None or quantity <= tier[1])), None)
    if tier is None:
        return None
    if scheme == "volume":
        return tier[2] * quantity
    if scheme == "stairstep":
        return tier[2]  # the tier's price is the price of the whole range
    return None


def _tier(price: Raw) -> tuple[int, int | None, Decimal | None]:
    start = whole(price.get("starting_quantity"))
    return (start if start is not None else 1, whole(price.get("ending_quantity")), decimal(price.get("unit_price")))
