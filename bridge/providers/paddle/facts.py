"""What a Paddle notification says in the billing model's terms (pure).

`enrichment` may carry Paddle entities fetched by the core, as the API returns them: `customer` (for its
`custom_data`, email and name), `subscription` (for a transaction's or adjustment's identity), `address` (its
`country_code` picks a price's country override) and `discount` (the subscription's discount, for its amount).
Identity slots are `custom_data.pendo_account_id` and `custom_data.pendo_visitor_id`: on the subscription
first, then on the transaction the event is about, then on the customer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.billing.model import Customer, Facts, Identity
from bridge.providers import Event
from bridge.providers.paddle.payments import payment
from bridge.providers.paddle.subscription import subscription
from bridge.providers.values import mapping, text

ACCOUNT_SLOT = "pendo_account_id"
VISITOR_SLOT = "pendo_visitor_id"


def facts(event: Event, enrichment: Mapping[str, Any]) -> Facts:
    """The event's facts: a subscription snapshot, a payment or a customer, and whose they are."""
    data = mapping(event.payload.get("data"))
    entity = event.type.partition(".")[0]
    snapshot = subscription(data, enrichment) if entity == "subscription" else None
    owner = data if entity == "subscription" else mapping(enrichment.get("subscription"))
    customer = data if entity == "customer" else mapping(enrichment.get("customer"))
    sources = [owner, data if entity == "transaction" else {}, customer]
    return Facts(
        identity=Identity(
            customer_id=event.customer_id or text(customer.get("id")),
            account_id=_slot(sources, ACCOUNT_SLOT),
            visitor_id=_slot(sources, VISITOR_SLOT),
            email=text(customer.get("email")),
        ),
        subscription=snapshot,
        payment=payment(event.type, data, event.created),
        customer=_customer(customer),
    )


def _slot(sources: list[Mapping[str, Any]], name: str) -> str | None:
    """The first non-empty identity slot among the entities' `custom_data`, in order."""
    for source in sources:
        value = mapping(source.get("custom_data")).get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def _customer(customer: Mapping[str, Any]) -> Customer | None:
    customer_id = text(customer.get("id"))
    if customer_id is None or not customer_id.startswith("ctm_"):
        return None
    return Customer(id=customer_id, email=text(customer.get("email")), name=text(customer.get("name")))
