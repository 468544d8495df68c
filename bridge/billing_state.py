"""Per-subscription billing state, read and written in the mapper's transaction.

`prepare` loads what the pure evaluation needs — this subscription's previous snapshot (`prior`) and the
account roll-up after applying this event (`account`) — and `save` stores the new snapshot. A snapshot
replaces the stored one only when its (source_time, rank) is higher, as in `bridge.outbox`; a stale event
still maps, but its roll-up carries no revision and so cannot overwrite newer values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, and_, or_, select

from bridge import rollup, stripe_billing, stripe_versions
from bridge.providers import Event
from bridge.schema import billing_accounts, subscriptions
from bridge.store import insert_for


@dataclass(frozen=True)
class Prepared:
    """What `prepare` found: the evaluation context additions, and the row to save (None: nothing newer)."""

    context: dict[str, Any] = field(default_factory=dict)
    row: dict[str, Any] | None = None


def subscription_of(event: Event, enrichment: Mapping[str, Any]) -> dict[str, Any] | None:
    """The event's subscription in the canonical shape with looked-up prices; None for other events."""
    if event.provider != "stripe" or not event.type.startswith("customer.subscription."):
        return None
    obj = stripe_versions.normalise(event.payload).get("data", {}).get("object")
    if not isinstance(obj, dict) or obj.get("object") != "subscription" or not obj.get("id"):
        return None
    return dict(stripe_billing.with_prices(obj, enrichment.get("prices")))


def _row(event: Event, subscription: dict[str, Any], account_id: str | None, now: float) -> dict[str, Any]:
    status = subscription.get("status")
    return {
        "subscription_id": subscription["id"], "account_id": account_id,
        "customer_id": stripe_billing.resolve_identity(
            subscription, event.type, {}, account_fallback="none", visitor_fallback="skip",
            synthetic_prefix="")["customer_id"],
        "status": status, "snapshot": json.dumps(subscription, sort_keys=True),
        "source_time": int(event.created * 1000),
        "rank": stripe_billing.tie_rank(event.type, status if isinstance(status, str) else None),
        "mrr": stripe_billing.subscription_mrr(subscription), "event_id": event.id, "updated_at": now,
    }


def _newer(row: Mapping[str, Any], stored: Mapping[str, Any] | None) -> bool:
    if stored is None or stored["event_id"] == row["event_id"]:
        return True
    return (stored["source_time"], stored["rank"]) < (row["source_time"], row["rank"])


def _lock(connection: Connection, account_id: str, now: float) -> int:
    """Take the account's row lock (held to commit) and return its next revision."""
    statement = insert_for(connection, billing_accounts).values(account_id=account_id, revision=1, updated_at=now)
    connection.execute(statement.on_conflict_do_update(
        index_elements=["account_id"],
        set_={"revision": billing_accounts.c.revision + 1, "updated_at": now}))
    return int(connection.execute(select(billing_accounts.c.revision)
                                  .where(billing_accounts.c.account_id == account_id)).scalar_one())


def _snapshot(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"payload": json.loads(row["snapshot"]), "source_time": row["source_time"]}


def prepare(connection: Connection, event: Event, enrichment: Mapping[str, Any], account_id: str | None,
            now: float) -> Prepared:
    """Load the prior snapshot and roll the account up with this event applied (when it is the newest)."""
    subscription = subscription_of(event, enrichment)
    if subscription is None:
        return Prepared()
    row = _row(event, subscription, account_id, now)
    stored = cast(Mapping[str, Any] | None, connection.execute(select(subscriptions).where(
        subscriptions.c.subscription_id == row["subscription_id"])).mappings().first())
    fresh = _newer(row, stored)
    prior = json.loads(stored["snapshot"]) if stored is not None and fresh and stored["event_id"] != event.id \
        else {}
    if account_id is None:
        return Prepared({"prior": prior}, row if fresh else None)
    revision = _lock(connection, account_id, now)
    others = connection.execute(select(subscriptions).where(
        subscriptions.c.account_id == account_id,
        subscriptions.c.subscription_id != row["subscription_id"])).mappings().all()
    own: Mapping[str, Any] = row if fresh or stored is None else stored
    account = rollup.account([*(_snapshot(dict(other)) for other in others), _snapshot(own)], account_id)
    account["revision"] = revision if fresh else None
    return Prepared({"prior": prior, "account": account}, row if fresh else None)


def save(connection: Connection, prepared: Prepared) -> None:
    """Store the new snapshot unless a newer one arrived meanwhile."""
    row = prepared.row
    if row is None:
        return
    statement = insert_for(connection, subscriptions).values(**row)
    new = statement.excluded
    connection.execute(statement.on_conflict_do_update(
        index_elements=["subscription_id"],
        set_={name: getattr(new, name) for name in row if name != "subscription_id"},
        where=or_(subscriptions.c.event_id == new.event_id, subscriptions.c.source_time < new.source_time,
                  and_(subscriptions.c.source_time == new.source_time, subscriptions.c.rank < new.rank)),
    ))
