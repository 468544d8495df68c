"""What a Maxio webhook says in the billing model's terms (pure).

Subscription events carry the subscription with its customer and product; `facts` reads them, or, when `enrichment`
has fetched it (`MAXIO_API_KEY`), Maxio's current copy of the subscription, its components and their price
points, and the customer's metafields. Lines and amounts are `catalog`'s; identity slots are `identity`'s.

Payments: `payment_success` (paid) and `payment_failure` (failed) from the payload's `transaction`, and
`refund_success` (refunded). `renewal_success` / `renewal_failure` accompany those payment events and add only
the subscription snapshot, so one payment is never counted twice. `end_of_trial_notice` is the trial-ending
notice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.billing.model import Customer, Facts, Payment, Subscription
from bridge.providers import Event
from bridge.providers.maxio import catalog
from bridge.providers.maxio.identity import identity
from bridge.providers.maxio.values import cents, flag, instant, text
from bridge.providers.values import currency_code, mapping

NAME = "maxio"
STATES = {
    "trialing": "trialing",
    "active": "active",
    "past_due": "past_due",
    "soft_failure": "past_due",  # a failed renewal still being retried (dunning)
    "unpaid": "unpaid",
    "canceled": "canceled",
    "expired": "canceled",
    "trial_ended": "canceled",  # the trial ended with no way to pay: the subscription has ended
    "on_hold": "paused",
    "paused": "paused",
}
PAYMENTS = {"payment_success": "paid", "payment_failure": "failed", "refund_success": "refunded"}
Raw = Mapping[str, Any]


def facts(event: Event, enrichment: Mapping[str, Any]) -> Facts:
    """The event's facts; `enrichment` is what `api.enrichment` fetched (may be empty)."""
    payload = mapping(event.payload.get("payload"))
    sent = mapping(payload.get("subscription"))
    fetched = mapping(enrichment.get("subscription"))
    raw = fetched if fetched and text(fetched.get("id")) == text(sent.get("id")) else sent
    customer = mapping(raw.get("customer")) or mapping(sent.get("customer")) or mapping(payload.get("customer"))
    components = enrichment.get("components")
    snapshot = subscription_of(raw, components if isinstance(components, list) else None,
                               mapping(enrichment.get("price_points"))) if raw else None
    return Facts(
        identity=identity(customer, event.customer_id, mapping(enrichment.get("metafields"))),
        subscription=snapshot,
        payment=payment(event.type, payload, snapshot.currency if snapshot else currency_code(sent.get("currency")),
                        event.created),
        customer=_customer(customer),
        trial_ending=event.type == "end_of_trial_notice",
    )


def subscription(raw: Raw) -> Subscription | None:
    """A Maxio subscription (from a payload or the API) in the model's terms; None when it is not one.

    `bridge sync maxio` attaches the subscription's `components` and `component_price_points` to each one it
    lists, which are then read too."""
    components = raw.get("components")
    return subscription_of(raw, components if isinstance(components, list) else None,
                           mapping(raw.get("component_price_points")))


def subscription_of(raw: Raw, components: list[Raw] | None, price_points: Mapping[str, Raw]) -> Subscription | None:
    """The snapshot, with the components when they are known (None: not known)."""
    if not text(raw.get("id")) or not isinstance(raw.get("state"), str):
        return None
    gaps: list[str] = []
    state = raw["state"]
    status = STATES.get(state)
    if status is None:
        gaps.append(f"state {state!r} has no equivalent in the billing model")
    code = currency_code(raw.get("currency"))
    if code is None:
        gaps.append("the subscription's currency is not in the payload")
    items = catalog.items(raw, code, [mapping(c) for c in components] if components is not None else None,
                          price_points)
    gaps.extend(item.gap for item in items if item.gap and item.gap not in gaps)
    if catalog.period(mapping(raw.get("product")))[0] is None:
        gaps.append("the product's billing interval is not in the payload")
    if text(raw.get("coupon_code")) or raw.get("coupon_codes"):
        gaps.append("a coupon is applied; its amount is not in the payload")
    ended = status == "canceled"
    at_end = flag(raw.get("cancel_at_end_of_period"))
    period_end = instant(raw.get("current_period_ends_at"))
    return Subscription(
        provider=NAME,
        id=str(text(raw.get("id"))),
        customer_id=text(mapping(raw.get("customer")).get("id")) or text(raw.get("customer_id")),
        status=status,
        items=items,
        currency=code,
        created_at=instant(raw.get("created_at")),
        trial_end=instant(raw.get("trial_ended_at")),
        period_end=None if ended else period_end,
        cancel_at_period_end=False if ended else at_end,
        cancels_at=None if ended else instant(raw.get("delayed_cancel_at")) or (period_end if at_end else None),
        canceled_at=instant(raw.get("canceled_at")),
        paused=status == "paused" if status else None,
        resumes_at=instant(raw.get("automatically_resume_at")),
        mrr=None,  # Maxio's MRR is a report, not a field of the subscription
        gaps=tuple(gaps),
    )


def payment(event_type: str, payload: Raw, code: str | None, at: float) -> Payment | None:
    """A payment fact from the payload's transaction (or refund fields); None for other events."""
    kind = PAYMENTS.get(event_type)
    if kind is None:
        return None
    transaction = mapping(payload.get("transaction"))
    subscription_id = text(transaction.get("subscription_id")) or text(mapping(payload.get("subscription")).get("id"))
    if kind == "refunded":
        refund = mapping(payload.get("refund"))
        amount = cents(payload.get("refund_amount_in_cents") or refund.get("amount_in_cents"), code)
        return Payment(kind=kind, id=text(payload.get("refund_id")) or text(refund.get("id")), amount=amount,
                       currency=code, at=at, subscription_id=subscription_id or text(payload.get("subscription_id")),
                       invoice_id=text(payload.get("payment_id")), reason=text(payload.get("memo")))
    return Payment(
        kind=kind,
        id=text(transaction.get("id")),
        amount=cents(transaction.get("amount_in_cents"), code),
        currency=code,
        at=instant(transaction.get("created_at")) or at,
        subscription_id=subscription_id,
        invoice_id=text(transaction.get("invoice_id")) or text(transaction.get("statement_id")),
        reason=text(transaction.get("memo")) if kind == "failed" else None,
    )


def _customer(customer: Raw) -> Customer | None:
    if not text(customer.get("id")):
        return None
    names = [customer.get("first_name"), customer.get("last_name")]
    name = " ".join(part for part in names if isinstance(part, str) and part) or text(customer.get("organization"))
    return Customer(id=str(text(customer.get("id"))), email=text(customer.get("email")), name=name)
