"""Who an event is about in Pendo (pure): the provider's identity slots, then the core's link table, then the
configured fallbacks (`BRIDGE_ACCOUNT_FALLBACK`, `BRIDGE_VISITOR_FALLBACK`). The same for every provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.billing.model import Identity
from bridge.providers import Event
from bridge.providers.registry import find

# BRIDGE_ACCOUNT_FALLBACK values that take the provider's customer id as the account id.
CUSTOMER_FALLBACKS = ("stripe_customer", "customer")
CONNECT_FALLBACK = "connect_account"  # the event's connected account id as the account id


def link_of(enrichment: Mapping[str, Any]) -> str | None:
    """The account the customer link table gives (`enrichment["link"]`: an id, or a row with `account_id`)."""
    found = enrichment.get("link")
    if isinstance(found, Mapping):
        found = found.get("account_id")
    return found.strip() if isinstance(found, str) and found.strip() else None


def resolve(identity: Identity, link: str | None, *, account_fallback: str, visitor_fallback: str,
            synthetic_prefix: str, connect_account: str | None = None) -> dict[str, Any]:
    """The `identity` context variable: account_id (and where it came from), visitor_id, customer_id."""
    account_id, source = identity.account_id, "metadata" if identity.account_id else None
    if account_id is None and link is not None:
        account_id, source = link, "link"
    if account_id is None and account_fallback in CUSTOMER_FALLBACKS and identity.customer_id:
        account_id, source = identity.customer_id, "fallback"
    if account_id is None and account_fallback == CONNECT_FALLBACK and connect_account:
        account_id, source = connect_account, "fallback"
    visitor_id = identity.visitor_id
    if visitor_id is None and visitor_fallback == "synthetic" and identity.customer_id:
        visitor_id = synthetic_prefix + identity.customer_id
    if visitor_id is None and visitor_fallback == "email":
        visitor_id = identity.email
    return {"account_id": account_id, "account_source": source, "visitor_id": visitor_id,
            "customer_id": identity.customer_id}


def account_of(event: Event, enrichment: Mapping[str, Any], account_fallback: str) -> str | None:
    """The account an event resolves to (its roll-up's key): its provider's slots, the link, the fallback."""
    found = find(event.provider)
    if found is None:
        return None
    slots = found.facts(event, enrichment).identity
    return resolve(slots, link_of(enrichment), account_fallback=account_fallback, visitor_fallback="skip",
                   synthetic_prefix="", connect_account=event.connect_account)["account_id"]


def is_guest(event: Event, enrichment: Mapping[str, Any]) -> bool:
    """Whether the event is about no customer at all, as its provider's package reads it (`Identity.guest`)."""
    found = find(event.provider)
    return found.facts(event, enrichment).identity.guest if found is not None else False


def customer_of(event: Event, enrichment: Mapping[str, Any]) -> str | None:
    """The customer an event is about as its provider's package reads it, enrichment included (a dispute's
    customer is found through its charge)."""
    found = find(event.provider)
    return found.facts(event, enrichment).identity.customer_id if found is not None else None
