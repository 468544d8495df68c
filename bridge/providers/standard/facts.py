"""What a generic Standard Webhooks event says in the billing model's terms: who it is about, nothing more.

A Standard Webhooks sender has no billing vocabulary bridge could rely on, so no subscription, payment or customer
is read; only the identity slots `data.metadata.pendo_account_id` / `pendo_visitor_id`, when the sender puts them
there. Admins map such events with their own rules (docs/providers/standard.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.billing.model import Facts, Identity, Subscription
from bridge.providers import Event


def facts(event: Event, enrichment: Mapping[str, Any]) -> Facts:
    """The identity the event's `data.metadata` carries (pure; `enrichment` is not used)."""
    data = event.payload.get("data")
    metadata = data.get("metadata") if isinstance(data, Mapping) else None
    return Facts(identity=Identity(
        customer_id=event.customer_id,
        account_id=slot(metadata, "pendo_account_id"),
        visitor_id=slot(metadata, "pendo_visitor_id"),
    ))


def subscription(raw: Mapping[str, Any]) -> Subscription | None:
    """Never one: a generic sender's objects have no known subscription shape."""
    return None


def slot(metadata: object, key: str) -> str | None:
    """A metadata identity slot: a non-empty text (a whole number is read as its digits), else None."""
    if not isinstance(metadata, Mapping):
        return None
    value = metadata.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
