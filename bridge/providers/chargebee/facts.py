"""What a verified Chargebee event says in the billing model's terms (pure: no network, no clock).

An event's `content` holds whole resources (`subscription`, `customer`, `invoice`, `transaction`,
`credit_note`, …). When the core has re-fetched the event from Chargebee's API (`api.enrichment`), that copy's
content is used instead of the webhook's: it is the one Chargebee vouches for. Statuses are mapped onto the
model's vocabulary; Chargebee's own `mrr` is taken as the subscription's MRR while it counts (active); anything
the payload does not give is None with a line in `Subscription.gaps`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.billing.model import Customer, Facts, Payment, Subscription
from bridge.billing.mrr import COUNTED_STATUSES
from bridge.providers import Event
from bridge.providers.chargebee import catalog, identity
from bridge.providers.chargebee.webhook import NAME, customer_of
from bridge.providers.values import text

Raw = Mapping[str, Any]

# Chargebee's subscription statuses → the model's. `non_renewing` is active until the term ends; `future` (not
# started) and `transferred` (moved to another business entity) have no equivalent and are withheld.
STATUSES: Mapping[str, str] = {
    "in_trial": "trialing",
    "active": "active",
    "non_renewing": "active",
    "paused": "paused",
    "cancelled": "canceled",
}
PAYMENT_EVENTS: Mapping[str, str] = {
    "payment_succeeded": "paid",
    "payment_failed": "failed",
    "payment_refunded": "refunded",
}
TRIAL_ENDING = "subscription_trial_end_reminder"


def facts(event: Event, enrichment: Mapping[str, Any]) -> Facts:
    """The event's facts; a re-fetched copy of the event in `enrichment["event"]` wins over the webhook's."""
    content = _content(event, enrichment)
    raw_subscription = content.get("subscription")
    customer = _customer_object(content, raw_subscription)
    return Facts(
        identity=identity.identity(customer, customer_of(content) or event.customer_id),
        subscription=subscription(raw_subscription) if isinstance(raw_subscription, Mapping) else None,
        payment=payment(event.type, content),
        customer=_customer(customer),
        trial_ending=event.type == TRIAL_ENDING,
    )


def _customer_object(content: Raw, raw_subscription: object) -> Raw | None:
    """The event's customer, else one attached to the subscription (as `bridge sync chargebee` attaches it)."""
    for found in (content.get("customer"), _resource(raw_subscription, "customer")):
        if isinstance(found, Mapping) and found:
            return found
    return None


def _content(event: Event, enrichment: Mapping[str, Any]) -> Raw:
    fetched = enrichment.get("event")
    if isinstance(fetched, Mapping) and fetched.get("id") == event.id and isinstance(fetched.get("content"), Mapping):
        return fetched["content"]
    content = event.payload.get("content")
    return content if isinstance(content, Mapping) else {}


def subscription(raw: Mapping[str, Any]) -> Subscription | None:
    """A Chargebee subscription object in the model's terms; None when it is not one."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str) or not raw["id"]:
        return None
    if raw.get("object", "subscription") != "subscription":
        return None
    currency = _currency(raw.get("currency_code"))
    status, status_gaps = _status(raw.get("status"))
    items, item_gaps = catalog.items(raw, currency)
    discounts, discount_gaps = catalog.discounts(raw, currency)
    # Chargebee's `mrr` is what the subscription brings in now: 0 while trialing, paused or cancelled, which says
    # nothing of its list MRR (what a cancellation lost, a trial's conversion). Taken only while it counts; else
    # the model computes the list MRR from the items, and counts 0 for such a status itself.
    counted = status in COUNTED_STATUSES
    mrr = catalog.minor_to_major(raw.get("mrr"), currency) if counted else None
    mrr_gaps = () if mrr is not None or not counted else ("Chargebee sent no mrr for this subscription",)
    return Subscription(
        provider=NAME,
        id=raw["id"],
        customer_id=text(raw.get("customer_id")),
        status=status,
        items=items,
        discounts=discounts,
        currency=currency,
        created_at=_time(raw.get("created_at")),
        trial_end=_time(raw.get("trial_end")),
        period_end=_time(raw.get("current_term_end")),
        cancel_at_period_end=_cancel_at_period_end(raw.get("status")),
        cancels_at=_cancels_at(raw),
        canceled_at=_time(raw.get("cancelled_at")) if raw.get("status") == "cancelled" else None,
        paused=_paused(raw.get("status")),
        resumes_at=_time(raw.get("resume_date")),
        mrr=mrr,
        gaps=status_gaps + item_gaps + discount_gaps + mrr_gaps,
    )


def _status(value: object) -> tuple[str | None, tuple[str, ...]]:
    if isinstance(value, str) and value in STATUSES:
        return STATUSES[value], ()
    return None, (f"status {value!r} has no equivalent in the billing model",)


def _cancel_at_period_end(status: object) -> bool | None:
    """`non_renewing` is exactly "active, cancels when the term ends"; other known statuses are not."""
    return status == "non_renewing" if status in STATUSES else None


def _cancels_at(raw: Raw) -> float | None:
    """When a non-renewing subscription will cancel: `cancelled_at` (set ahead), else the current term's end."""
    if raw.get("status") != "non_renewing":
        return None
    return _time(raw.get("cancelled_at")) or _time(raw.get("current_term_end"))


def _paused(status: object) -> bool | None:
    return status == "paused" if status in STATUSES else None


def payment(event_type: str, content: Raw) -> Payment | None:
    """A payment fact from payment_succeeded / payment_failed / payment_refunded; None for other events."""
    kind = PAYMENT_EVENTS.get(event_type)
    if kind is None:
        return None
    transaction = _resource(content, "transaction")
    invoice = _resource(content, "invoice")
    currency = _currency(transaction.get("currency_code") or invoice.get("currency_code"))
    amount = catalog.minor_to_major(transaction.get("amount"), currency)
    if amount is None and kind == "paid":
        amount = catalog.minor_to_major(invoice.get("amount_paid"), currency)
    attempts = invoice.get("dunning_attempts")
    return Payment(
        kind=kind,
        id=text(transaction.get("id")),
        amount=amount,
        currency=currency,
        at=_time(transaction.get("date")) or _time(invoice.get("paid_at") if kind == "paid" else None),
        subscription_id=text(transaction.get("subscription_id")) or text(invoice.get("subscription_id")),
        invoice_id=text(invoice.get("id")),
        attempt_count=len(attempts) if isinstance(attempts, list) and attempts else None,
        reason=text(transaction.get("error_text")) if kind == "failed" else None,
    )


def _customer(customer: Raw | None) -> Customer | None:
    if customer is None or not text(customer.get("id")):
        return None
    names = [customer.get("first_name"), customer.get("last_name")]
    name = " ".join(part for part in names if isinstance(part, str) and part) or text(customer.get("company"))
    return Customer(id=str(customer["id"]), email=text(customer.get("email")), name=name)


def _resource(content: object, key: str) -> Raw:
    found = content.get(key) if isinstance(content, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def _currency(value: object) -> str | None:
    return value.upper() if isinstance(value, str) and len(value) == 3 else None


def _time(value: object) -> float | None:
    return float(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
