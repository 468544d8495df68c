"""Removing what is stored about one customer (`bridge purge --customer`), in one transaction.

Removed: the payload and detail of every event of the customer (its `customer_id`, or a payload naming it), the
payloads of their track events, the field values those events set, the billing state of their subscriptions, and
every cached provider object that names the customer or that their events and subscriptions name (a charge, a
price) in the same provider's cache. Customer ids are the provider's own: `provider` narrows the purge to one
provider; without it, every provider's customer of that id is purged.
Kept, so that the service goes on working: each event's ledger row (provider, id, type, times, customer and account
ids: a redelivered event is still recognised as a duplicate), the rows' ids and states, and the customer's link to
a Pendo account (`customer_links`). docs/operations.md lists them.

Nothing left behind is a row the worker cannot handle: an event not yet mapped, or waiting to be, becomes `purged`
and is never mapped; a track event not yet sent becomes `purged` and is never sent. The events are updated first:
on PostgreSQL that waits for a worker mapping one of them to commit, and a worker whose claim the purge released
cannot commit the event's results at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, case, delete, or_, select, update

from bridge.pendo import outbox
from bridge.store import store
from bridge.store.schema import events, field_values, provider_objects, subscriptions, track_events

CHUNK = 500  # ids per IN (...): well within SQLite's limit on bound parameters
ID_MAX = 255  # the longest id the cache holds (`provider_objects.object_id`)
PURGED_DETAIL = json.dumps({"purged": True})


@dataclass(frozen=True)
class Purged:
    """How many rows of each kind a purge emptied or removed."""

    events: int = 0
    track_events: int = 0
    field_values: int = 0
    subscriptions: int = 0
    cached_objects: int = 0


def purge_customer(engine: Engine, customer_id: str, provider: str | None = None) -> Purged:
    """Remove what is stored about `customer_id` of `provider` (of any provider when None; see the docstring)."""
    named = json.dumps(customer_id)  # the id as a JSON string, as every stored payload quotes it
    with engine.begin() as connection:
        found = _events_of(connection, customer_id, named, provider)
        event_ids = [row["event_id"] for row in found]
        emptied = _empty_events(connection, [row["id"] for row in found])
        snapshots = connection.execute(
            select(subscriptions.c.provider, subscriptions.c.subscription_id, subscriptions.c.snapshot).where(
                or_(subscriptions.c.customer_id == customer_id,
                    subscriptions.c.snapshot.contains(named, autoescape=True)),
                *_of(subscriptions.c.provider, provider))).mappings().all()
        referenced = _ids_named([(row["provider"], row["payload"]) for row in found]
                                + [(row["provider"], row["snapshot"]) for row in snapshots])
        return Purged(
            events=emptied,
            track_events=_empty_tracks(connection, event_ids),
            field_values=_in_chunks(connection, event_ids, lambda ids: delete(field_values).where(
                field_values.c.event_id.in_(ids))),
            subscriptions=sum(_in_chunks(connection, ids, lambda chunk, name=name: delete(subscriptions).where(
                subscriptions.c.provider == name, subscriptions.c.subscription_id.in_(chunk)))
                for name, ids in _by_provider((row["provider"], row["subscription_id"]) for row in snapshots)),
            cached_objects=_drop_cached(connection, customer_id, named, referenced, provider),
        )


def _of(column: Any, provider: str | None) -> tuple[Any, ...]:
    """The condition narrowing a query to one provider's rows; none when every provider's are wanted."""
    return () if provider is None else (column == provider,)


def _by_provider(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    grouped: dict[str, list[str]] = {}
    for name, key in pairs:
        grouped.setdefault(name, []).append(key)
    return sorted(grouped.items())


def _events_of(connection: Connection, customer_id: str, named: str, provider: str | None) -> Sequence[Any]:
    mentions = or_(events.c.customer_id == customer_id, events.c.payload.contains(named, autoescape=True))
    query = select(events.c.id, events.c.event_id, events.c.provider, events.c.payload).where(
        mentions, *_of(events.c.provider, provider)).order_by(events.c.id)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()  # waits for a worker mapping one of them
    return connection.execute(query).mappings().all()


def _empty_events(connection: Connection, row_ids: list[int]) -> int:
    not_final = events.c.status.in_([store.RECEIVED, store.UNRESOLVED, store.HELD])
    return _in_chunks(connection, row_ids, lambda ids: update(events).where(events.c.id.in_(ids)).values(
        payload=None, detail=PURGED_DETAIL, claimed_by=None, claimed_until=None,
        status=case((not_final, store.PURGED), else_=events.c.status)))


def _empty_tracks(connection: Connection, event_ids: list[str]) -> int:
    unsent = track_events.c.state.in_([outbox.PENDING, outbox.WAITING])
    return _in_chunks(connection, event_ids, lambda ids: update(track_events).where(
        track_events.c.event_id.in_(ids)).values(
        payload=None, last_error=None, claimed_by=None, claimed_until=None,
        state=case((unsent, outbox.PURGED), else_=track_events.c.state)))


def _drop_cached(connection: Connection, customer_id: str, named: str, referenced: set[tuple[str, str]],
                 provider: str | None) -> int:
    objects = provider_objects.c
    dropped = connection.execute(delete(provider_objects).where(or_(
        objects.object_id == customer_id, objects.payload.contains(named, autoescape=True)),
        *_of(objects.provider, provider))).rowcount
    return int(dropped) + sum(_in_chunks(connection, sorted(ids), lambda chunk, name=name: delete(
        provider_objects).where(objects.provider == name, objects.object_id.in_(chunk)))
        for name, ids in _by_provider(referenced))


def _ids_named(documents: Iterable[tuple[str, str | None]]) -> set[tuple[str, str]]:
    """Every (provider, string) in the providers' JSON documents that could be a cached object's id."""
    found: set[tuple[str, str]] = set()
    for provider, document in documents:
        try:
            found.update((provider, text) for text in _strings(json.loads(document or "null")) if len(text) <= ID_MAX)
        except ValueError:
            continue
    return found


def _strings(value: Any) -> Iterator[str]:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            pending += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            pending += item


def _in_chunks(connection: Connection, ids: Sequence[Any], statement: Any) -> int:
    """Run `statement(chunk)` for each chunk of `ids`; the rows it touched in all."""
    return sum(int(connection.execute(statement(list(ids[start:start + CHUNK]))).rowcount)
               for start in range(0, len(ids), CHUNK))
