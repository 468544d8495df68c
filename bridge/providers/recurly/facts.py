"""What a verified Recurly event says in the billing model's terms (pure: no network, no clock).

A JSON webhook names an object and what happened to it; the object itself comes from the API through
`api.enrichment` (`subscription`, `customer` (the account: `account` is the core's roll-up), `plan`, `transaction`
keys). With those, the subscription is read in full; without them (no `RECURLY_API_KEY`), only what the event type
itself says is given — a canceled, expired, paused, resumed or reactivated subscription — and everything else is
None with a line in `gaps`.

Recurly's `canceled` state means "will not renew": the subscription stays active until `expires_at`, so it maps to
`active` with `cancel_at_period_end`; `expired` is the end (`canceled`). A trial is not a state in Recurly: an
active subscription whose current period is its trial (`current_period_ends_at == trial_ends_at`) is `trialing`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.billing.model import Customer, Discount, Facts, Item, Subscription
from bridge.providers import Event
from bridge.providers.recurly.fields import Raw, quantity_of
from bridge.providers.recurly.identity import identity
from bridge.providers.recurly.payments import payment
from bridge.providers.recurly.webhook import NAME
from bridge.providers.standard.payload import iso_time
from bridge.providers.values import currency_code, decimal, mapping, text

STATES: Mapping[str, str] = {"active": "active", "canceled": "active", "expired": "canceled", "paused": "paused"}
# What a subscription event's type alone says, for when the subscription could not be fetched.
TYPE_STATES: Mapping[str, str] = {
    "subscription.canceled": "active",  # will not renew; active until it expires
    "subscription.expired": "canceled",
    "subscription.paused": "paused",
    "subscription.resumed": "active",
    "subscription.reactivated": "active",
}
INTERVALS: Mapping[str, str] = {"months": "month", "days": "day"}
NO_API = "Recurly's JSON webhooks carry ids only: set RECURLY_API_KEY to read plans, amounts and dates"


def facts(event: Event, enrichment: Mapping[str, Any]) -> Facts:
    """The event's facts, from the objects `api.enrichment` fetched when there are any, else from the event type."""
    raw = mapping(enrichment.get("subscription"))
    account = mapping(enrichment.get("customer"))  # its account: "account" is the core's roll-up
    plan = mapping(enrichment.get("plan"))
    if raw:
        found = subscription_of(raw, plan)
    elif event.payload.get("object_type") == "subscription":
        found = from_event_type(event)
    else:
        found = None
    return Facts(
        identity=identity(account, raw, event.customer_id),
        subscription=found,
        payment=payment(event, enrichment),
        customer=_customer(account),
    )


def subscription(raw: Mapping[str, Any]) -> Subscription | None:
    """A Recurly subscription object (from the API) in the model's terms; its plan's interval is a gap."""
    return subscription_of(raw, {}) if isinstance(raw, Mapping) else None


def subscription_of(raw: Raw, plan: Raw) -> Subscription | None:
    """A subscription object with its plan (for the billing interval); None when it is not one."""
    if not text(raw.get("id")) or raw.get("object", "subscription") != "subscription":
        return None
    state = raw.get("state")
    currency = currency_code(raw.get("currency"))
    items, item_gaps = _items(raw, plan, currency)
    discounts, discount_gaps = _discounts(raw, currency)
    status = STATES.get(state) if isinstance(state, str) else None
    if status == "active" and state == "active" and _is_trial(raw):
        status = "trialing"
    state_gaps = () if status else (f"state {state!r} has no equivalent in the billing model",)
    paused_gaps = ("Recurly gives remaining pause cycles, not a resume date",) if state == "paused" else ()
    return Subscription(
        provider=NAME,
        id=raw["id"],
        customer_id=text(mapping(raw.get("account")).get("id")),
        status=status,
        items=items,
        discounts=discounts,
        currency=currency,
        created_at=iso_time(raw.get("created_at")),
        trial_end=iso_time(raw.get("trial_ends_at")),
        period_end=iso_time(raw.get("current_period_ends_at")),
        cancel_at_period_end=(state == "canceled") if status else None,
        cancels_at=iso_time(raw.get("expires_at")) if state == "canceled" else None,
        canceled_at=_canceled_at(raw, state),
        paused=(state == "paused") if status else None,
        resumes_at=None,
        mrr=None,  # Recurly publishes no MRR on a subscription
        gaps=state_gaps + item_gaps + discount_gaps + paused_gaps,
    )


def _canceled_at(raw: Raw, state: object) -> float | None:
    """When it was canceled, for canceled and expired subscriptions only (an expiry without one: when it ended)."""
    if state == "canceled":
        return iso_time(raw.get("canceled_at"))
    if state == "expired":
        return iso_time(raw.get("canceled_at")) or iso_time(raw.get("expires_at"))
    return None


def from_event_type(event: Event) -> Subscription:
    """The little a subscription event's type says by itself (no API key, or the fetch is not done)."""
    status = TYPE_STATES.get(event.type)
    gaps = (NO_API,) if status else (f"event {event.type} does not say the subscription's status", NO_API)
    return Subscription(
        provider=NAME,
        id=str(event.payload.get("id")),
        customer_id=event.customer_id,
        status=status,
        cancel_at_period_end=True if event.type == "subscription.canceled" else (False if status else None),
        canceled_at=event.created if event.type == "subscription.expired" else None,  # sent as it ends
        paused=(status == "paused") if status else None,
        gaps=gaps,
    )


def _is_trial(raw: Raw) -> bool:
    trial_end = iso_time(raw.get("trial_ends_at"))
    return trial_end is not None and trial_end == iso_time(raw.get("current_period_ends_at"))


def _items(raw: Raw, plan: Raw, currency: str | None) -> tuple[tuple[Item, ...], tuple[str, ...]]:
    """The plan line (unit amount times quantity) and one line per add-on, with the plan's interval when known."""
    unit_name, length = plan.get("interval_unit"), plan.get("interval_length")
    interval = INTERVALS.get(unit_name) if isinstance(unit_name, str) else None
    count = length if isinstance(length, int) and not isinstance(length, bool) and length > 0 else 1
    gap = None if interval else "the plan's billing interval is unknown (the plan was not fetched)"
    mini = mapping(raw.get("plan"))
    quantity = quantity_of(raw.get("quantity"))
    unit = decimal(raw.get("unit_amount"))
    amount = unit * quantity if unit is not None and quantity is not None else None
    lines = [Item(price_id=text(mini.get("id")), plan=text(plan.get("name")) or text(mini.get("name")),
                  amount=amount, currency=currency, interval=interval, interval_count=count,
                  quantity=quantity, lookup_key=text(mini.get("code")),
                  gap=gap if amount is not None else "the subscription has no unit_amount or quantity")]
    add_ons = raw.get("add_ons")
    for add_on in add_ons if isinstance(add_ons, list) else []:
        if isinstance(add_on, Mapping):
            lines.append(_add_on(add_on, currency, interval, count, gap))
    gaps = tuple(line.gap for line in lines if line.gap)
    if raw.get("tax_inclusive") is True:
        gaps += ("prices include tax (tax_inclusive): amounts are tax-inclusive",)
    return tuple(lines), gaps


def _add_on(add_on: Raw, currency: str | None, interval: str | None, count: int, gap: str | None) -> Item:
    mini = mapping(add_on.get("add_on"))
    metered = mini.get("add_on_type") == "usage"
    quantity = quantity_of(add_on.get("quantity"))
    unit = decimal(add_on.get("unit_amount_decimal")) or decimal(add_on.get("unit_amount"))
    amount = None if metered or unit is None or quantity is None else unit * quantity
    why = gap if amount is not None or metered else f"add-on {mini.get('code')!r} has no unit amount or quantity"
    return Item(price_id=text(mini.get("id")), plan=text(mini.get("name")), amount=amount, currency=currency,
                interval=interval, interval_count=count, quantity=quantity, metered=metered,
                lookup_key=text(mini.get("code")), gap=why)


def _discounts(raw: Raw, currency: str | None) -> tuple[tuple[Discount, ...], tuple[str, ...]]:
    """Active coupon redemptions as percent or fixed discounts; their duration is not in the subscription."""
    found: list[Discount] = []
    listed = raw.get("coupon_redemptions")
    for redemption in listed if isinstance(listed, list) else []:
        if not isinstance(redemption, Mapping) or redemption.get("state", "active") != "active":
            continue
        discount = mapping(mapping(redemption.get("coupon")).get("discount"))
        if discount.get("type") == "percent" and decimal(discount.get("percent")) is not None:
            found.append(Discount(percent_off=decimal(discount.get("percent"))))
        elif discount.get("type") == "fixed":
            amounts = [decimal(entry.get("amount")) for entry in discount.get("currencies") or []
                       if isinstance(entry, Mapping) and currency_code(entry.get("currency")) == currency]
            if amounts and amounts[0] is not None:
                found.append(Discount(amount_off=amounts[0], currency=currency))
    gaps = ("a coupon's duration is not on the subscription: counted until it is removed",) if found else ()
    return tuple(found), gaps


def _customer(account: Raw) -> Customer | None:
    if not text(account.get("id")):
        return None
    names = [account.get("first_name"), account.get("last_name")]
    name = " ".join(part for part in names if isinstance(part, str) and part) or text(account.get("company"))
    past_due = account.get("has_past_due_invoice")
    return Customer(id=account["id"], email=text(account.get("email")), name=name,
                    delinquent=past_due if isinstance(past_due, bool) else None)
