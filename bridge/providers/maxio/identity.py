"""Maxio's identity slots: where an admin writes the Pendo ids on a Maxio customer (pure).

Read in this order, the first non-empty value winning:
1. the customer's metafields (Maxio's custom fields, Config → Custom Fields → Customers) `pendo_account_id` and
   `pendo_visitor_id`: from the API (`GET /customers/{id}/metadata.json`, fetched by `enrichment` when
   `MAXIO_API_KEY` is set), or from the payload when an event carries the customer's `metafields`;
2. for the account only, the customer's `reference`: the merchant's own id for the customer, unique on the site
   (set at signup, or on the customer's page in Maxio), which most integrations set to their account id.
A slot empty everywhere is None, and the core's link table or fallback decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.billing.model import Identity
from bridge.providers.maxio.values import text
from bridge.providers.values import mapping

ACCOUNT_SLOT = "pendo_account_id"
VISITOR_SLOT = "pendo_visitor_id"


def identity(customer: Mapping[str, Any], customer_id: str | None, fetched: Mapping[str, Any]) -> Identity:
    """The Pendo ids of a Maxio customer; `fetched` holds metafields read from the API (name → value)."""
    metafields = {**_payload_metafields(customer), **{k: v for k, v in fetched.items() if _slot(v)}}
    return Identity(
        customer_id=text(customer.get("id")) or customer_id,
        account_id=_slot(metafields.get(ACCOUNT_SLOT)) or _slot(customer.get("reference")),
        visitor_id=_slot(metafields.get(VISITOR_SLOT)),
        email=text(customer.get("email")),
    )


def metafields_of(answer: Mapping[str, Any]) -> dict[str, str]:
    """`{name: value}` from the API's `{"metadata": [{"name": …, "value": …}, …]}`."""
    listed = answer.get("metadata")
    found: dict[str, str] = {}
    for entry in listed if isinstance(listed, list) else []:
        name, value = mapping(entry).get("name"), mapping(entry).get("value")
        if isinstance(name, str) and _slot(value):
            found[name] = str(_slot(value))
    return found


def _payload_metafields(customer: Mapping[str, Any]) -> dict[str, Any]:
    return dict(mapping(customer.get("metafields")))


def _slot(value: object) -> str | None:
    found = text(value)
    return found.strip() if found and found.strip() else None
