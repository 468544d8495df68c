"""Recurly's identity slots: the custom fields `pendo_account_id` / `pendo_visitor_id`.

Recurly custom fields are defined under Configuration > Custom Fields (related object: Account, or Subscription)
and are returned as `custom_fields: [{"name": …, "value": …}]` on accounts and subscriptions. The account's fields
are read first (one company, many subscriptions), then the subscription's; the first non-blank value wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.billing.model import Identity
from bridge.providers.values import text

ACCOUNT_SLOT = "pendo_account_id"
VISITOR_SLOT = "pendo_visitor_id"


def identity(account: Mapping[str, Any], subscription: Mapping[str, Any], customer_id: str | None) -> Identity:
    """The Pendo ids the account (then the subscription) carries; None where the slots are empty."""
    fields = (custom_fields(account), custom_fields(subscription))
    found = subscription.get("account")
    mini: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    return Identity(
        customer_id=text(account.get("id")) or text(mini.get("id")) or customer_id,
        account_id=next((found[ACCOUNT_SLOT] for found in fields if ACCOUNT_SLOT in found), None),
        visitor_id=next((found[VISITOR_SLOT] for found in fields if VISITOR_SLOT in found), None),
        email=text(account.get("email")) or text(mini.get("email")),
    )


def custom_fields(resource: Mapping[str, Any]) -> dict[str, str]:
    """A resource's custom fields by name, blank values left out."""
    listed = resource.get("custom_fields")
    found: dict[str, str] = {}
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            value = entry.get("value")
            if isinstance(value, str) and value.strip():
                found.setdefault(entry["name"], value.strip())
    return found
