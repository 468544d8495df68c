"""Chargebee's identity slots: where an admin writes the Pendo ids on a Chargebee customer.

Two places, read in this order: the customer's custom fields `cf_pendo_account_id` / `cf_pendo_visitor_id`
(Settings → Configure Chargebee → Custom Fields; the API names custom fields with a `cf_` prefix), then the
customer's metadata (`meta_data`, a JSON object) keys `pendo_account_id` / `pendo_visitor_id`. The first
non-empty value wins; a slot that is empty everywhere is None and the core's link table or fallback decide.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bridge.billing.model import Identity
from bridge.providers.values import text

ACCOUNT_SLOTS = ("cf_pendo_account_id", "pendo_account_id")
VISITOR_SLOTS = ("cf_pendo_visitor_id", "pendo_visitor_id")
MAX_META_DATA = 65_536  # characters of a `meta_data` string worth parsing


def identity(customer: Mapping[str, Any] | None, customer_id: str | None) -> Identity:
    """The Pendo ids a Chargebee customer carries (None where its slots are empty)."""
    if not isinstance(customer, Mapping):
        return Identity(customer_id=customer_id)
    meta = meta_data(customer)
    return Identity(
        customer_id=text(customer.get("id")) or customer_id,
        account_id=_slot(customer, meta, ACCOUNT_SLOTS),
        visitor_id=_slot(customer, meta, VISITOR_SLOTS),
        email=text(customer.get("email")),
    )


def meta_data(customer: Mapping[str, Any]) -> Mapping[str, Any]:
    """The customer's `meta_data` as an object (the API returns an object; a JSON string is read too)."""
    value = customer.get("meta_data")
    if isinstance(value, str) and len(value) <= MAX_META_DATA:
        try:
            value = json.loads(value, parse_constant=lambda name: None)
        except (ValueError, RecursionError):
            return {}
    return value if isinstance(value, Mapping) else {}


def _slot(customer: Mapping[str, Any], meta: Mapping[str, Any], names: tuple[str, str]) -> str | None:
    custom_field, meta_key = names
    return _id(customer.get(custom_field)) or _id(meta.get(meta_key))


def _id(value: object) -> str | None:
    """A slot's value as an id: text, or a whole number (a custom field of type number); blank is None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
