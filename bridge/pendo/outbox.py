"""The outbox: metadata field values (coalesced, guarded by source time) and track events (one each).

A metadata value replaces the stored one only when its (source_time, rank) is higher: an older event
never overwrites a newer value, whatever the order of arrival. A value equal to the one Pendo already
has is not sent again. A claimed row whose stored value or payload cannot be read is marked failed with the
reason, in the claim's transaction: one bad row never stops the others.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, String, Table, and_, bindparam, case, func, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql

from bridge.mapping.operations import MetadataUpdate
from bridge.ops import activity
from bridge.store.db import reading, yield_write_lock
from bridge.store.schema import events, field_values, track_events
from bridge.store.store import one_of, per_dialect

PENDING = "pending"
DELIVERED = "delivered"
WAITING = "waiting_for_pendo"  # Pendo does not know the id yet
HELD = "held"  # Pendo has no such custom field: a configuration fault
FAILED = "failed"
EXPIRED = "expired"  # a track event older than Pendo's 7-day window
PURGED = "purged"  # a track event of a purged customer, never sent
UNREADABLE = "its stored payload is missing or not a JSON object"
WEBHOOKS = "webhooks"  # the source shown for rows the mapped webhook events made (`source` NULL)


@dataclass(frozen=True)
class EntityBatch:
    """The claimed pending fields of one Pendo account or visitor."""

    kind: str
    entity_id: str
    values: dict[str, Any]
    versions: dict[str, int]
    create: bool
    attempts: int
    first_missing_at: float | None
    event_id: str | None = None  # the newest event behind these values, for log lines and alerts
    source: str | None = None  # who sent the newest value (an API key's name, an import); None: webhooks


@dataclass(frozen=True)
class Settlement:
    """The outcome for some (default: all) claimed fields of one entity."""

    batch: EntityBatch
    state: str
    fields: tuple[str, ...] | None = None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClaimedTrack:
    row_id: int
    payload: dict[str, Any]
    timestamp_ms: int
    attempts: int
    event_id: str | None = None
    request_id: str | None = None
    source: str | None = None


def field_row(update_op: MetadataUpdate, name: str, value: Any, event_id: str | None, version: str | None,
              now: float, source: str | None = None) -> dict[str, Any]:
    """The outbox row of one field value of `update_op`."""
    return {
        "kind": update_op.kind, "entity_id": update_op.id, "field": name, "value": json.dumps(value, sort_keys=True),
        "source_time": update_op.source_time, "rank": update_op.rank, "event_id": event_id,
        "mapping_version": version, "create_allowed": update_op.create, "version": 1, "sent_version": 0,
        "state": PENDING, "attempts": 0, "next_attempt_at": now, "updated_at": now, "reclaims": 0, "source": source,
    }


def enqueue_metadata(connection: Connection, update_op: MetadataUpdate, event_id: str, version: str,
                     now: float, source: str | None = None) -> None:
    """Upsert each field of `update_op`, guarded by (source_time, rank), in one executemany."""
    enqueue_fields(connection, metadata_rows(update_op, event_id, version, now, source))


def metadata_rows(update_op: MetadataUpdate, event_id: str, version: str, now: float,
                  source: str | None = None) -> list[dict[str, Any]]:
    """The outbox rows of `update_op`'s fields (`field_row`)."""
    return [field_row(update_op, name, value, event_id, version, now, source)
            for name, value in update_op.values.items()]


def enqueue_in_turn(connection: Connection, groups: list[list[dict[str, Any]]]) -> None:
    """Upsert groups of field rows as if one after the other: in one executemany when no field is in two groups,
    else group by group (the guard then decides between them exactly as it would have in turn)."""
    keys = [(row["kind"], row["entity_id"], row["field"]) for group in groups for row in group]
    if len(keys) == len(set(keys)):
        enqueue_fields(connection, [row for group in groups for row in group])
        return
    for group in groups:
        enqueue_fields(connection, group)


def enqueue_fields(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Upsert field rows (`field_row`), each guarded by (source_time, rank), in one executemany; of two rows for
    one field only the newer one is written."""
    newest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["kind"], row["entity_id"], row["field"])
        known = newest.get(key)
        if known is None or (known["source_time"], known["rank"]) <= (row["source_time"], row["rank"]):
            newest[key] = row
    if newest:  # rows lock in key order everywhere: no deadlocks
        connection.execute(_upsert(connection), [newest[k] for k in sorted(newest)])


@per_dialect
def _upsert(insert: Callable[[Table], Any]) -> Any:
    """The guarded upsert of one field value."""
    statement = insert(field_values)
    new, now = statement.excluded, statement.excluded.updated_at
    unchanged = and_(field_values.c.value == new.value, field_values.c.state == DELIVERED)
    return statement.on_conflict_do_update(
        index_elements=["kind", "entity_id", "field"],
        set_={
            "value": new.value, "source_time": new.source_time, "rank": new.rank,
            "event_id": new.event_id, "mapping_version": new.mapping_version,
            "create_allowed": new.create_allowed, "updated_at": now, "source": new.source,
            "version": case((unchanged, field_values.c.version), else_=field_values.c.version + 1),
            "state": case((unchanged, DELIVERED), else_=PENDING),
            "attempts": case((unchanged, field_values.c.attempts), else_=0),
            # A change to a value already waiting keeps its place: the linger runs from the oldest change.
            "next_attempt_at": case((unchanged, field_values.c.next_attempt_at),
                                    (and_(field_values.c.state == PENDING, field_values.c.next_attempt_at <= now),
                                     field_values.c.next_attempt_at), else_=now),
        },
        where=or_(
            field_values.c.source_time < new.source_time,
            and_(field_values.c.source_time == new.source_time, field_values.c.rank < new.rank),
        ),
    )


def track_row(event_id: str, rule: str, payload: dict[str, Any], timestamp_ms: int, version: str | None,
              now: float, state: str = PENDING, source: str | None = None) -> dict[str, Any]:
    """The outbox row of one track event."""
    return {
        "event_id": event_id, "rule": rule, "payload": json.dumps(payload), "timestamp_ms": timestamp_ms,
        "mapping_version": version, "state": state, "attempts": 0, "next_attempt_at": now, "created_at": now,
        "reclaims": 0, "source": source,
    }


def enqueue_track(connection: Connection, event_id: str, rule: str, payload: dict[str, Any],
                  timestamp_ms: int, version: str, now: float, state: str = PENDING) -> None:
    """Add one track event; the same (event, rule) is only ever added once."""
    connection.execute(_insert_track(connection), track_row(event_id, rule, payload, timestamp_ms, version, now,
                                                            state))


def enqueue_tracks(connection: Connection, rows: list[dict[str, Any]]) -> int:
    """Add track events (`track_row`) in one statement; the number that were new (an (event, rule) is added once)."""
    if not rows:
        return 0
    return len(connection.execute(_insert_new_tracks(connection), rows).all())


@per_dialect
def _insert_track(insert: Callable[[Table], Any]) -> Any:
    return insert(track_events).on_conflict_do_nothing(index_elements=["event_id", "rule"])


@per_dialect
def _insert_new_tracks(insert: Callable[[Table], Any]) -> Any:
    return insert(track_events).on_conflict_do_nothing(index_elements=["event_id", "rule"]).returning(
        track_events.c.id)


# Entities claimed or settled per transaction. SQLite has one write lock, which webhooks wait for: a claim of 500
# entities held it about 20 ms, a slice of 25 holds it 1-2 ms (and its commit's fsync a fraction of that).
CLAIM_SLICE = {"sqlite": 25}
DEFAULT_CLAIM_SLICE = 500
DUE_SCAN_WINDOWS = (4, 64)  # rows read per entity wanted, first try then second, before the aggregate


def _due_entities(connection: Connection, now: float, limit: int) -> list[tuple[str, str, float]]:
    """Up to `limit` (kind, entity_id, oldest due time) with due values, the longest waiting first.

    Due rows are read in order of `next_attempt_at` through `ix_field_values_state_due`, a bounded range of that
    index per state, and the first `limit` entities among them taken: an aggregate over every due row cost seconds
    a claim, under the write lock, once an import had queued a million values. Only when entities have so many due
    fields that the larger window holds fewer than `limit` of them is the aggregate used.
    """
    fv = field_values.c
    free = or_(fv.claimed_until.is_(None), fv.claimed_until < now)
    for factor in DUE_SCAN_WINDOWS:
        window, exhausted = limit * factor, True
        rows: list[Any] = []
        for state in (PENDING, WAITING):
            found = connection.execute(
                select(fv.kind, fv.entity_id, fv.next_attempt_at)
                .where(fv.state == state, fv.next_attempt_at <= now, free)
                .order_by(fv.next_attempt_at).limit(window)).all()
            rows += found
            exhausted = exhausted and len(found) < window
        firsts: dict[tuple[str, str], float] = {}
        for kind, entity_id, at in sorted(rows, key=lambda r: r[2]):
            firsts.setdefault((kind, entity_id), at)
            if len(firsts) == limit:
                break
        if len(firsts) == limit or exhausted:
            return [(kind, entity_id, at) for (kind, entity_id), at in firsts.items()]
    oldest = func.min(fv.next_attempt_at)
    return [(r[0], r[1], r[2]) for r in connection.execute(
        select(fv.kind, fv.entity_id, oldest).where(_due(field_values, now))
        .group_by(fv.kind, fv.entity_id).order_by(oldest).limit(limit)).all()]


def _entities_in(connection: Connection, entities: Iterable[Any]) -> Any:
    """(kind, entity_id) among `entities`, as one list of ids per kind: PostgreSQL plans a list of row values as a
    chain of ORs, minutes for a claim of 500 entities over a backlog of 30,000 values."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for entity in entities:
        by_kind[entity[0]].append(entity[1])
    return or_(*(and_(field_values.c.kind == kind, one_of(connection, field_values.c.entity_id, ids))
                 for kind, ids in sorted(by_kind.items())))


def _claim_fields(connection: Connection, entities: list[tuple[str, str, float]], due: Any,
                  values: dict[str, Any]) -> list[Any]:
    """Set `values` on the due fields of `entities` not locked by another transaction; the rows, as updated.

    Rows are locked in key order and rows another transaction holds are skipped (PostgreSQL; SQLite has one
    writer): a claim never waits on a lock, so it cannot deadlock with the mapper or another worker."""
    fv = field_values.c
    claimable = (select(fv.kind, fv.entity_id, fv.field).where(_entities_in(connection, entities), due)
                 .order_by(fv.kind, fv.entity_id, fv.field).with_for_update(skip_locked=True))
    if connection.dialect.name == "postgresql":
        # Locked first, then updated by key: in one UPDATE, every row the mapper changed meanwhile made PostgreSQL
        # run the locking subquery again for it (its recheck of a concurrent update), and a claim took minutes.
        keys = connection.execute(claimable).all()
        if not keys:
            return []
        locked = select(*(func.unnest(bindparam(f"k_{name}", [key[index] for key in keys],
                                                type_=postgresql.ARRAY(String))).label(name)
                          for index, name in enumerate(("kind", "entity_id", "field")))).subquery()
        return list(connection.execute(
            update(field_values).where(fv.kind == locked.c.kind, fv.entity_id == locked.c.entity_id,
                                       fv.field == locked.c.field).values(**values).returning(*field_values.c)
        ).mappings().all())
    # The rows are found through the key (the entities' ids again); whether they are due is the subquery's test.
    # With `state` and `next_attempt_at` in this WHERE too, SQLite walked the due index — every pending value of a
    # large import — for each claim.
    return list(connection.execute(
        update(field_values).where(_entities_in(connection, entities),
                                   tuple_(fv.kind, fv.entity_id, fv.field).in_(claimable))
        .values(**values).returning(*field_values.c)
    ).mappings().all())


def _due(table: Any, now: float) -> Any:
    free = or_(table.c.claimed_until.is_(None), table.c.claimed_until < now)
    return and_(table.c.state.in_([PENDING, WAITING]), table.c.next_attempt_at <= now, free)


def _reclaimed(table: Any, now: float) -> Any:
    """1 for a row whose earlier claim ran out (its worker died): it may have reached Pendo already."""
    return case((table.c.claimed_until < now, table.c.reclaims + 1), else_=table.c.reclaims)


class Outbox:
    """Claims and settles outbox rows for the worker."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def claim_entities(self, worker: str, now: float, lease: float, limit: int,
                       linger: float = 0.0) -> list[EntityBatch]:
        """Lease the due fields of up to `limit` accounts/visitors.

        With a `linger`, nothing is claimed until `limit` entities are due or the oldest due change has waited
        `linger` seconds: changes arriving meanwhile join the same bulk request.
        """
        due = _due(field_values, now)
        with reading(self.engine) as reader:  # most calls find nothing to claim yet: they take no write lock
            entities = _due_entities(reader, now, limit)
        if not entities or (len(entities) < limit and entities[0][2] > now - linger):
            return []
        claim = {"claimed_by": worker, "claimed_until": now + lease, "reclaims": _reclaimed(field_values, now)}
        readable: list[tuple[Any, Any]] = []
        size = self._slice()
        for start in range(0, len(entities), size):
            if start:
                yield_write_lock(self.engine)
            with self.engine.begin() as connection:  # claims only what is still due and free
                rows = _claim_fields(connection, entities[start:start + size], due, claim)
                readable += [(row, value) for row in rows if (value := _value(connection, row)) is not _UNREADABLE]
        return _group(readable)

    def settle(self, worker: str, settlements: Iterable[Settlement], now: float | None = None) -> None:
        """Record the outcome of claimed fields and release them, a CLAIM_SLICE of entities per transaction (each
        row's outcome stands alone); with `now`, the delivered ones are counted in that minute's activity."""
        items, size = list(settlements), self._slice()
        for start in range(0, len(items), size):
            if start:
                yield_write_lock(self.engine)
            self._settle(worker, items[start:start + size], now)

    def _slice(self) -> int:
        return CLAIM_SLICE.get(self.engine.dialect.name, DEFAULT_CLAIM_SLICE)

    def _settle(self, worker: str, settlements: list[Settlement], now: float | None) -> None:
        delivered: list[dict[str, Any]] = []
        with self.engine.begin() as connection:
            for item in settlements:
                names = list(item.batch.versions) if item.fields is None else list(item.fields)
                if item.state == DELIVERED:
                    delivered += [{"b_kind": item.batch.kind, "b_id": item.batch.entity_id, "b_field": name,
                                   "b_worker": worker, "b_sent": item.batch.versions[name]} for name in names]
                    continue
                for name in names:
                    _settle_field(connection, worker, item, name)
            if delivered:
                delivered.sort(key=lambda p: (p["b_kind"], p["b_id"], p["b_field"]))
                connection.execute(_SETTLE_DELIVERED, delivered)  # one executemany for the common outcome
                if now is not None:
                    activity.count_delivered(connection, now, len(delivered))

    def release_held(self, kind: str, fields: Iterable[str], now: float) -> int:
        """Send held values of fields that now exist in Pendo."""
        with self.engine.begin() as connection:
            result = connection.execute(
                update(field_values).where(field_values.c.kind == kind, field_values.c.state == HELD,
                                           field_values.c.field.in_(list(fields)))
                .values(state=PENDING, next_attempt_at=now, attempts=0))
        return result.rowcount

    def held_fields(self) -> dict[str, set[str]]:
        with reading(self.engine) as connection:
            rows = connection.execute(select(field_values.c.kind, field_values.c.field)
                                      .where(field_values.c.state == HELD).distinct())
            held: dict[str, set[str]] = defaultdict(set)
            for kind, field in rows:
                held[kind].add(field)
            return held

    def claim_tracks(self, worker: str, now: float, lease: float, limit: int) -> list[ClaimedTrack]:
        due = _due(track_events, now)
        with reading(self.engine) as reader:  # no write lock unless there is something to claim
            ids = reader.execute(
                select(track_events.c.id).where(due).order_by(track_events.c.timestamp_ms).limit(limit)
            ).scalars().all()
        if not ids:
            return []
        with self.engine.begin() as connection:  # the UPDATE claims only what is still due and free
            connection.execute(
                update(track_events).where(track_events.c.id.in_(ids), due)
                .values(claimed_by=worker, claimed_until=now + lease, reclaims=_reclaimed(track_events, now)))
            rows = connection.execute(
                select(track_events).where(track_events.c.claimed_by == worker,
                                           track_events.c.claimed_until == now + lease)
                .order_by(track_events.c.timestamp_ms)
            ).mappings().all()
            payloads = [(row, _payload(connection, row)) for row in rows]
            request_ids = _request_ids(connection, {r["event_id"] for r in rows})
        return [ClaimedTrack(r["id"], payload, r["timestamp_ms"], r["attempts"], r["event_id"],
                             request_ids.get(r["event_id"]), r["source"])
                for r, payload in payloads if payload is not None]

    def settle_track(self, row_id: int, worker: str, state: str, **values: Any) -> None:
        """Record a claimed track event's outcome; a delivered one (with its `delivered_at`) counts in the activity."""
        with self.engine.begin() as connection:
            settled = connection.execute(
                update(track_events).where(track_events.c.id == row_id, track_events.c.claimed_by == worker)
                .values(claimed_by=None, claimed_until=None, state=state, **values)).rowcount
            if state == DELIVERED and settled and values.get("delivered_at") is not None:
                activity.count_delivered(connection, values["delivered_at"], settled)

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows by state: {"metadata": {...}, "track": {...}}; metadata counted per entity and field."""
        with reading(self.engine) as connection:
            fields = connection.execute(
                select(field_values.c.state, func.count()).group_by(field_values.c.state)).all()
            tracks = connection.execute(
                select(track_events.c.state, func.count()).group_by(track_events.c.state)).all()
        return {"metadata": dict(fields), "track": dict(tracks)}

    def counts_by_source(self) -> dict[str, dict[str, dict[str, int]]]:
        """Rows by source and state: {source: {"metadata": {...}, "track": {...}}}; webhooks' rows as "webhooks"."""
        found: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: {"metadata": {}, "track": {}})
        with reading(self.engine) as connection:
            for box, table in (("metadata", field_values), ("track", track_events)):
                rows = connection.execute(select(table.c.source, table.c.state, func.count())
                                          .group_by(table.c.source, table.c.state))
                for source, state, count in rows:
                    found[source or WEBHOOKS][box][state] = count
        return dict(found)

    def oldest_pending(self) -> float | None:
        """When the oldest change still waiting for Pendo (pending or waiting_for_pendo) was made."""
        with reading(self.engine) as connection:
            fields = connection.execute(select(func.min(field_values.c.updated_at))
                                        .where(field_values.c.state.in_([PENDING, WAITING]))).scalar()
            tracks = connection.execute(select(func.min(track_events.c.created_at))
                                        .where(track_events.c.state.in_([PENDING, WAITING]))).scalar()
        found = [t for t in (fields, tracks) if t is not None]
        return min(found) if found else None

    def recent_failures(self, limit: int) -> list[dict[str, Any]]:
        """The latest failed or held rows with their reason (Pendo's answer, shortened)."""
        fv, te = field_values.c, track_events.c
        with reading(self.engine) as connection:
            fields = connection.execute(
                select(fv.kind, fv.entity_id, fv.field, fv.state, fv.event_id, fv.last_error, fv.updated_at, fv.source)
                .where(fv.state.in_([FAILED, HELD])).order_by(fv.updated_at.desc()).limit(limit)).mappings().all()
            tracks = connection.execute(
                select(te.event_id, te.rule, te.state, te.last_error, te.created_at, te.source)
                .where(te.state == FAILED).order_by(te.created_at.desc()).limit(limit)).mappings().all()
        found = [{"outbox": "metadata", "kind": r["kind"], "id": r["entity_id"], "field": r["field"],
                  "state": r["state"], "event_id": r["event_id"], "reason": r["last_error"], "at": r["updated_at"],
                  "source": r["source"] or WEBHOOKS} for r in fields]
        found += [{"outbox": "track", "rule": r["rule"], "state": r["state"], "event_id": r["event_id"],
                   "reason": r["last_error"], "at": r["created_at"], "source": r["source"] or WEBHOOKS}
                  for r in tracks]
        return sorted(found, key=lambda f: f["at"], reverse=True)[:limit]

    def reclaim_count(self) -> int:
        """Rows handed to a second worker after the first died: each may have reached Pendo twice."""
        with reading(self.engine) as connection:  # `reclaims > 0` reads the partial indexes only
            fields = connection.execute(select(func.coalesce(func.sum(field_values.c.reclaims), 0))
                                        .where(field_values.c.reclaims > 0)).scalar()
            tracks = connection.execute(select(func.coalesce(func.sum(track_events.c.reclaims), 0))
                                        .where(track_events.c.reclaims > 0)).scalar()
        return int(fields or 0) + int(tracks or 0)


_SETTLE_DELIVERED = update(field_values).where(
    field_values.c.kind == bindparam("b_kind"), field_values.c.entity_id == bindparam("b_id"),
    field_values.c.field == bindparam("b_field"), field_values.c.claimed_by == bindparam("b_worker"),
).values(
    # A value that changed while it was in flight stays pending: the newer one goes out next.
    sent_version=bindparam("b_sent"),
    state=case((field_values.c.version == bindparam("b_sent"), DELIVERED), else_=PENDING),
    attempts=0, last_error=None, first_missing_at=None, claimed_by=None, claimed_until=None,
)


def _request_ids(connection: Connection, event_ids: set[str]) -> dict[str, str]:
    """The X-Request-ID each event arrived with, for log lines about it."""
    if not event_ids:
        return {}
    rows = connection.execute(select(events.c.event_id, events.c.request_id)
                              .where(events.c.event_id.in_(list(event_ids)), events.c.request_id.is_not(None)))
    return {event_id: request_id for event_id, request_id in rows}


def _settle_field(connection: Connection, worker: str, item: Settlement, name: str) -> None:
    batch = item.batch
    where = and_(field_values.c.kind == batch.kind, field_values.c.entity_id == batch.entity_id,
                 field_values.c.field == name, field_values.c.claimed_by == worker)
    released = {"claimed_by": None, "claimed_until": None}
    if item.state != DELIVERED:
        connection.execute(update(field_values).where(where).values(state=item.state, **released, **item.values))
        return
    # A value that changed while it was in flight stays pending: the newer one goes out next.
    sent = batch.versions[name]
    connection.execute(update(field_values).where(where).values(
        sent_version=sent, state=case((field_values.c.version == sent, DELIVERED), else_=PENDING),
        attempts=0, last_error=None, first_missing_at=None, **released))


_UNREADABLE = object()


def _value(connection: Connection, row: Any) -> Any:
    """A claimed field's stored value; one that is not JSON is marked failed (and `_UNREADABLE` returned)."""
    try:
        return json.loads(row["value"])
    except (TypeError, ValueError):
        fv = field_values.c
        connection.execute(update(field_values).where(
            fv.kind == row["kind"], fv.entity_id == row["entity_id"], fv.field == row["field"],
        ).values(state=FAILED, last_error="its stored value is not JSON", claimed_by=None, claimed_until=None))
        return _UNREADABLE


def _payload(connection: Connection, row: Any) -> dict[str, Any] | None:
    """A claimed track event's payload; one that is missing or unreadable is marked failed (and None returned)."""
    try:
        payload = json.loads(row["payload"])
    except (TypeError, ValueError):
        payload = None
    if isinstance(payload, dict):
        return payload
    connection.execute(update(track_events).where(track_events.c.id == row["id"])
                       .values(state=FAILED, last_error=UNREADABLE, claimed_by=None, claimed_until=None))
    return None


def _group(rows: Iterable[tuple[Any, Any]]) -> list[EntityBatch]:
    """Claimed fields with their read values, as one batch per account or visitor."""
    grouped: dict[tuple[str, str], list[Any]] = defaultdict(list)
    values: dict[tuple[str, str, str], Any] = {}
    for row, value in rows:
        grouped[(row["kind"], row["entity_id"])].append(row)
        values[(row["kind"], row["entity_id"], row["field"])] = value
    return [
        EntityBatch(
            kind=kind, entity_id=entity_id,
            values={r["field"]: values[(kind, entity_id, r["field"])] for r in members},
            versions={r["field"]: r["version"] for r in members},
            create=any(r["create_allowed"] for r in members),
            attempts=max(r["attempts"] for r in members),
            first_missing_at=min((r["first_missing_at"] for r in members if r["first_missing_at"]), default=None),
            event_id=newest["event_id"],
            source=newest["source"],
        )
        for (kind, entity_id), members in grouped.items()
        for newest in [max(members, key=lambda r: (r["source_time"], r["rank"]))]
    ]
