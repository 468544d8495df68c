"""One Pendo account on one page: each field's value as bridge last sent it (or holds it), the event that set it,
the account's recent events — including those that changed nothing — its subscriptions and its track events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, select

from bridge.store.db import reading
from bridge.store.schema import customer_links, events, field_values, subscriptions, track_events
from bridge.web.admin.events import LIST_COLUMNS

RECENT_EVENTS = 50
MAX_CUSTOMERS = 20
TRACKS_SHOWN = 50
NOT_APPLIED = ("received", "unresolved", "held", "failed", "ignored", "unmapped")


@dataclass
class FieldView:
    """A field row and what it means for what Pendo shows."""

    row: RowMapping
    value: Any
    meaning: str


@dataclass
class AccountView:
    account_id: str
    fields: list[FieldView] = field(default_factory=list)
    visitor_fields: list[FieldView] = field(default_factory=list)
    customers: list[tuple[str, str]] = field(default_factory=list)  # (provider, customer id)
    events: list[RowMapping] = field(default_factory=list)
    subscriptions: list[RowMapping] = field(default_factory=list)
    tracks: list[dict[str, Any]] = field(default_factory=list)
    not_applied: list[RowMapping] = field(default_factory=list)  # recent events that changed nothing

    @property
    def found(self) -> bool:
        return bool(self.fields or self.events or self.subscriptions or self.customers)


def meaning(row: RowMapping) -> str:
    """What Pendo holds for this field, in words."""
    state, sent = row["state"], row["sent_version"]
    earlier = "Pendo still has the value sent before" if sent else "Pendo has no value from bridge yet"
    return {
        "delivered": "Pendo has this value",
        "pending": f"waiting to be sent; {earlier}",
        "waiting_for_pendo": f"Pendo does not know this id yet; {earlier}",
        "held": f"held: Pendo has no custom field named {row['field']!r}; {earlier}",
        "failed": f"Pendo refused it: {row['last_error'] or 'no reason given'}; {earlier}",
    }.get(state, state)


def _customers(connection: Connection, account_id: str) -> list[tuple[str, str]]:
    """The account's customers as (provider, customer id): ids are unique only within their provider."""
    from_events = connection.execute(select(events.c.provider, events.c.customer_id).where(
        events.c.account_id == account_id, events.c.customer_id.is_not(None)).distinct().limit(MAX_CUSTOMERS)).all()
    linked = connection.execute(select(customer_links.c.provider, customer_links.c.customer_id).where(
        customer_links.c.account_id == account_id).limit(MAX_CUSTOMERS)).all()
    return sorted({(row[0], row[1]) for row in [*from_events, *linked]})[:MAX_CUSTOMERS]


def _recent_events(connection: Connection, account_id: str, customers: list[tuple[str, str]]) -> list[RowMapping]:
    """The newest events of the account and of its customers (each query on its own index), newest first."""
    newest = (events.c.received_at.desc(), events.c.id.desc())
    columns = (*LIST_COLUMNS, events.c.detail)
    found = {row["id"]: row for row in connection.execute(
        select(*columns).where(events.c.account_id == account_id).order_by(*newest).limit(RECENT_EVENTS)).mappings()}
    for provider, customer in customers:
        found.update({row["id"]: row for row in connection.execute(
            select(*columns).where(events.c.customer_id == customer, events.c.provider == provider)
            .order_by(*newest).limit(RECENT_EVENTS)).mappings()})
    return sorted(found.values(), key=lambda r: (r["received_at"], r["id"]), reverse=True)[:RECENT_EVENTS]


def _tracks(connection: Connection, event_ids: list[str], account_id: str) -> list[dict[str, Any]]:
    if not event_ids:
        return []
    rows = connection.execute(select(track_events).where(track_events.c.event_id.in_(event_ids))
                              .order_by(track_events.c.timestamp_ms.desc()).limit(TRACKS_SHOWN)).mappings().all()
    found = []
    for row in rows:
        payload = json.loads(row["payload"]) if row["payload"] else {}
        if payload.get("accountId") in (None, account_id):
            found.append({**row, "name": payload.get("event", row["rule"]), "visitor": payload.get("visitorId")})
    return found


def load(engine: Engine, account_id: str) -> AccountView:
    view = AccountView(account_id)
    with reading(engine) as connection:
        rows = connection.execute(select(field_values).where(
            field_values.c.kind == "account", field_values.c.entity_id == account_id)
            .order_by(field_values.c.field)).mappings().all()
        view.customers = _customers(connection, account_id)
        view.events = _recent_events(connection, account_id, view.customers)
        event_ids = [row["event_id"] for row in view.events]
        visitor_rows = connection.execute(select(field_values).where(
            field_values.c.kind == "visitor", field_values.c.event_id.in_(event_ids))
            .order_by(field_values.c.entity_id, field_values.c.field)).mappings().all() if event_ids else []
        view.subscriptions = list(connection.execute(select(subscriptions).where(
            subscriptions.c.account_id == account_id).order_by(subscriptions.c.source_time.desc())).mappings())
        view.tracks = _tracks(connection, event_ids, account_id)
    view.fields = [FieldView(row, json.loads(row["value"]), meaning(row)) for row in rows]
    view.visitor_fields = [FieldView(row, json.loads(row["value"]), meaning(row)) for row in visitor_rows]
    oldest_value = min((row["source_time"] for row in rows), default=0)
    view.not_applied = [row for row in view.events
                        if row["status"] in NOT_APPLIED and row["created"] * 1000 > oldest_value]
    return view
