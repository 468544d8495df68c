"""Per-subscription billing state, read and written in the mapper's transaction.

`prepare` loads what the pure evaluation needs — this subscription's previous snapshot (`prior`) and the
account roll-up after applying this event (`account`) — and `save` stores the new snapshot. A snapshot
replaces the stored one only when its (source_time, rank) is higher, as in `bridge.pendo.outbox`; a stale event
still maps, but its roll-up carries no revision and so cannot overwrite newer values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, bindparam, or_, select, update

from bridge.billing import mrr, rollup
from bridge.providers import Event
from bridge.providers.registry import mapping_module
from bridge.store.schema import billing_accounts, subscriptions
from bridge.store.store import per_dialect


@dataclass(frozen=True)
class Prepared:
    """What `prepare` found: the evaluation context additions, and the row to save (None: nothing newer).

    Prepared without the lock, it also says what it read — the account's revision it expects to take and the
    stored snapshot's event — for `claim` to check under the write lock."""

    context: dict[str, Any] = field(default_factory=dict)
    row: dict[str, Any] | None = None
    provider: str | None = None
    subscription_id: str | None = None
    account_id: str | None = None
    revision: int = 0
    stored_event_id: str | None = None


def subscription_of(event: Event, enrichment: Mapping[str, Any]) -> dict[str, Any] | None:
    """The subscription object the event carries, as its package stores it for the roll-up; None for other events."""
    carried = getattr(mapping_module(event.provider), "subscription_object", None)
    return carried(event, enrichment) if carried is not None else None


def _row(event: Event, subscription: dict[str, Any], account_id: str | None, now: float) -> dict[str, Any]:
    found = rollup.snapshot(event.provider, subscription, int(event.created * 1000))
    model = found.subscription if found is not None else None
    status = subscription.get("status")
    tie_rank = getattr(mapping_module(event.provider), "tie_rank", None)
    amount = mrr.mrr(model).amount if model is not None else None
    return {
        "provider": event.provider, "subscription_id": subscription["id"], "account_id": account_id,
        "customer_id": model.customer_id if model is not None else None,
        "status": status, "snapshot": json.dumps(subscription, sort_keys=True),
        "source_time": int(event.created * 1000),
        "rank": tie_rank(event.type, status if isinstance(status, str) else None) if tie_rank else 0,
        "mrr": None if amount is None else float(amount), "event_id": event.id, "updated_at": now,
    }


def _newer(row: Mapping[str, Any], stored: Mapping[str, Any] | None) -> bool:
    if stored is None or stored["event_id"] == row["event_id"]:
        return True
    return (stored["source_time"], stored["rank"]) < (row["source_time"], row["rank"])


@per_dialect
def _bump_revision(insert: Callable[[Table], Any]) -> Any:
    statement = insert(billing_accounts)
    return statement.on_conflict_do_update(
        index_elements=["account_id"],
        set_={"revision": billing_accounts.c.revision + 1, "updated_at": statement.excluded.updated_at},
    ).returning(billing_accounts.c.revision)


@per_dialect
def _save_newer(insert: Callable[[Table], Any]) -> Any:
    statement = insert(subscriptions)
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["provider", "subscription_id"],
        set_={column.name: getattr(new, column.name) for column in subscriptions.c
              if column.name not in ("provider", "subscription_id")},
        where=or_(subscriptions.c.event_id == new.event_id, subscriptions.c.source_time < new.source_time,
                  and_(subscriptions.c.source_time == new.source_time, subscriptions.c.rank < new.rank)),
    )


# A subscription is keyed by (provider, subscription_id): ids are the provider's own, unique only within it.
_THIS = and_(subscriptions.c.provider == bindparam("provider"),
             subscriptions.c.subscription_id == bindparam("subscription_id"))
_STORED = select(subscriptions).where(_THIS)
_OTHERS = select(subscriptions).where(subscriptions.c.account_id == bindparam("account_id"),
                                      or_(subscriptions.c.provider != bindparam("provider"),
                                          subscriptions.c.subscription_id != bindparam("subscription_id")))


@per_dialect
def _first_revision(insert: Callable[[Table], Any]) -> Any:
    # RETURNING says whether the row was inserted: psycopg reports no rowcount for this INSERT.
    return insert(billing_accounts).on_conflict_do_nothing(index_elements=["account_id"]) \
        .returning(billing_accounts.c.account_id)


_NEXT_REVISION = update(billing_accounts).where(
    billing_accounts.c.account_id == bindparam("b_account"), billing_accounts.c.revision == bindparam("b_expected"),
).values(revision=bindparam("b_revision"), updated_at=bindparam("b_updated"))
_REVISION = select(billing_accounts.c.revision).where(billing_accounts.c.account_id == bindparam("account_id"))
# Locked on PostgreSQL: a transaction writing this subscription now is waited for, and its write seen.
_STORED_EVENT = select(subscriptions.c.event_id).where(_THIS).with_for_update()


def _revision(connection: Connection, account_id: str) -> int:
    """The account's current revision (0 before its first)."""
    return int(connection.execute(_REVISION, {"account_id": account_id}).scalar_one_or_none() or 0)


def _lock(connection: Connection, account_id: str, now: float) -> int:
    """Take the account's row lock (held to commit) and return its next revision."""
    return int(connection.execute(_bump_revision(connection),
                                  {"account_id": account_id, "revision": 1, "updated_at": now}).scalar_one())


def _snapshot(row: Mapping[str, Any], provider: str) -> rollup.Snapshot | None:
    """A stored row in the model's terms; `provider` is the event's for rows stored before they named theirs."""
    return rollup.snapshot(row.get("provider") or provider, json.loads(row["snapshot"]), int(row["source_time"]))


def prepare(connection: Connection, event: Event, enrichment: Mapping[str, Any], account_id: str | None,
            now: float, lock: bool = True) -> Prepared:
    """Load the prior snapshot and roll the account up with this event applied (when it is the newest).

    With `lock` the account's row is locked and its revision taken now; without, they are only read, and the
    caller must `claim` them in its write transaction before saving."""
    subscription = subscription_of(event, enrichment)
    if subscription is None:
        return Prepared()
    row = _row(event, subscription, account_id, now)
    key = {"provider": row["provider"], "subscription_id": row["subscription_id"]}
    stored = cast(Mapping[str, Any] | None, connection.execute(_STORED, key).mappings().first())
    fresh = _newer(row, stored)
    prior = json.loads(stored["snapshot"]) if stored is not None and fresh and stored["event_id"] != event.id \
        else {}
    read = {**key, "stored_event_id": stored["event_id"] if stored else None}
    if account_id is None:
        return Prepared({"prior": prior}, row if fresh else None, **read)
    revision = _lock(connection, account_id, now) if lock else _revision(connection, account_id) + 1
    others = connection.execute(_OTHERS, {"account_id": account_id, **key}).mappings().all()
    own: Mapping[str, Any] = row if fresh or stored is None else stored
    found = [_snapshot(dict(other), event.provider) for other in others] + [_snapshot(own, event.provider)]
    account = rollup.account([snapshot for snapshot in found if snapshot is not None], account_id)
    account["revision"] = revision if fresh else None
    return Prepared({"prior": prior, "account": account}, row if fresh else None, account_id=account_id,
                    revision=revision, **read)


def claim(connection: Connection, prepared: Prepared, now: float) -> bool:
    """Take the revision a state prepared without the lock expects, in the caller's write transaction; False
    when another transaction changed the account or the subscription since it was read."""
    if prepared.subscription_id is None:
        return True
    stored = connection.execute(_STORED_EVENT, {"provider": prepared.provider,
                                                "subscription_id": prepared.subscription_id}).scalar_one_or_none()
    if stored != prepared.stored_event_id:
        return False
    if prepared.account_id is None:
        return True
    if prepared.revision == 1:
        inserted = connection.execute(_first_revision(connection),
                                      {"account_id": prepared.account_id, "revision": 1, "updated_at": now})
        return inserted.first() is not None
    taken = connection.execute(_NEXT_REVISION, {"b_account": prepared.account_id, "b_updated": now,
                                                "b_expected": prepared.revision - 1, "b_revision": prepared.revision})
    return bool(taken.rowcount == 1)


def save(connection: Connection, prepared: Prepared) -> None:
    """Store the new snapshot unless a newer one arrived meanwhile."""
    row = prepared.row
    if row is None:
        return
    connection.execute(_save_newer(connection), row)
