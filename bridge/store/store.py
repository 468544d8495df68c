"""The event store: durable ingest, claims for the worker, the enrichment cache, controls and retention.

Claims are leases: a worker sets `claimed_by`/`claimed_until` with a conditional UPDATE, so on both
SQLite and PostgreSQL only one worker wins a row, and a killed worker's rows come back when the lease
runs out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, String, Table, and_, bindparam, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from bridge.errors import EventRefused, StoreUnavailable
from bridge.providers import Event
from bridge.store.db import driver_transaction, reading
from bridge.store.schema import controls, events, field_values, provider_objects, track_events

# Event statuses.
RECEIVED = "received"  # stored, waiting to be mapped
MAPPED = "mapped"  # operations are in the outbox
UNMAPPED = "unmapped"  # no rule matched
UNRESOLVED = "unresolved"  # a rule matched but the account id did not resolve; retried on customer.updated
IGNORED = "ignored"  # its provider says so (another mode), or a thin event: stored, never mapped
FAILED = "failed"  # could not be mapped: the mapping code failed on it (the error is in `detail`)
# held: an API version newer than bridge, its payload not as the mappings read it (replayed after an upgrade), or an
# event its provider's API does not confirm (EventUnconfirmed; `bridge replay --status held` asks again)
HELD = "held"
PURGED = "purged"  # its customer was purged before it was mapped: never mapped
EXPIRED = "expired"  # unresolved for BRIDGE_RETENTION_DAYS: its payload is deleted, it is never mapped
UNSETTLED = ("pending", "waiting_for_pendo", "held")  # `bridge.outbox` states of rows still to be sent


Built = TypeVar("Built")


def insert_for(connection: Connection | Engine, table: Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def per_dialect(build: Callable[[Callable[[Table], Any]], Built]) -> Callable[[Connection], Built]:
    """A statement built once per database dialect from that dialect's INSERT, then reused with bound
    parameters: on the worker's hot path, building a statement costs more than running it."""
    built: dict[str, Built] = {}

    def get(connection: Connection) -> Built:
        name = connection.dialect.name
        if name not in built:
            built[name] = build(postgresql.insert if name == "postgresql" else sqlite.insert)
        return built[name]
    return get


def one_of(connection: Connection, column: Any, values: Sequence[str]) -> Any:
    """`column IN values`; on PostgreSQL `column IN (SELECT unnest(array))`, which the planner joins. psycopg prepares
    a statement run five times, PostgreSQL may then keep a generic plan made while a table was small, and in a
    generic plan a long IN list (or `= ANY`) compares every row with every value: a look-up of 500 ids took 0.5 s
    instead of 10 ms over an outbox grown by an import."""
    if connection.dialect.name == "postgresql":
        return column.in_(select(func.unnest(bindparam(None, list(values), type_=postgresql.ARRAY(String)))))
    return column.in_(values)


@dataclass(frozen=True)
class Incoming:
    """A verified event on its way in; `raw` is the body as received, stored as it was signed."""

    event: Event
    received_at: float
    status: str = RECEIVED
    detail: str | None = None
    raw: str | None = None
    request_id: str | None = None


INGEST_COLUMNS = ("provider", "event_id", "type", "created", "livemode", "api_version", "connect_account",
                  "customer_id", "payload", "received_at", "status", "detail", "attempts", "next_attempt_at",
                  "request_id")


def _row(item: Incoming) -> dict[str, Any]:
    event = item.event
    return {
        "provider": event.provider, "event_id": event.id, "type": event.type, "created": event.created,
        "livemode": event.livemode, "api_version": event.api_version,
        "connect_account": event.connect_account, "customer_id": event.customer_id,
        "payload": item.raw if item.raw is not None else json.dumps(event.payload, separators=(",", ":")),
        "received_at": item.received_at, "status": item.status, "detail": item.detail,
        "attempts": 0, "next_attempt_at": 0.0, "request_id": item.request_id,
    }


@dataclass(frozen=True)
class StoredEvent:
    """An event row as the worker needs it."""

    row_id: int
    event: Event
    attempts: int
    request_id: str | None = None


class Store:
    """Reads and writes the events ledger."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._ingest_sql: tuple[str, list[str] | None] | None = None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    def ingest(self, event: Event, now: float, status: str = RECEIVED, detail: str | None = None,
               raw: str | None = None) -> bool:
        """Store a verified event once; return True when it was already stored (a duplicate)."""
        return self.ingest_many([Incoming(event, now, status, detail, raw)])[0]

    def ingest_many(self, batch: Sequence[Incoming]) -> list[bool]:
        """Store several events in one transaction (one disk sync); for each, whether it was a duplicate.

        Raises EventRefused when the database refuses a value of an event (the whole transaction is rolled
        back: which event it was is found by storing them one by one), StoreUnavailable when it cannot commit.
        """
        sql, order = self._ingest_statement()
        try:
            with driver_transaction(self.engine) as cursor:
                duplicates = []
                for item in batch:
                    row = _row(item)
                    cursor.execute(sql, row if order is None else [row[name] for name in order])
                    duplicates.append(cursor.rowcount == 0)  # ON CONFLICT DO NOTHING: the id was stored
                return duplicates
        except (DataError, IntegrityError, UnicodeError) as exc:
            # Too long for its column, a NUL byte PostgreSQL text cannot hold, an unpaired surrogate no
            # encoder can write: the event's values, not the database.
            raise EventRefused("the database refused a value of the event") from exc
        except SQLAlchemyError as exc:
            raise StoreUnavailable("the event store could not commit") from exc

    def _ingest_statement(self) -> tuple[str, list[str] | None]:
        """The INSERT of `ingest_many` in the driver's own terms: its SQL, and the order of its parameters when the
        driver takes them by position (None: by name)."""
        if self._ingest_sql is None:
            statement = insert_for(self.engine, events).on_conflict_do_nothing(index_elements=["provider", "event_id"])
            compiled = statement.compile(dialect=self.engine.dialect, column_keys=list(INGEST_COLUMNS),
                                          for_executemany=True)  # no implicit RETURNING of the id
            self._ingest_sql = compiled.string, list(compiled.positiontup) if compiled.positional else None
        return self._ingest_sql

    def claim_events(self, worker: str, now: float, lease: float, limit: int) -> list[StoredEvent]:
        """Lease up to `limit` due events to `worker`, oldest event time first."""
        due = and_(events.c.status == RECEIVED, events.c.next_attempt_at <= now, _free(events, now))
        with reading(self.engine) as reader:  # no write lock (which webhooks wait for) unless there is work
            ids = reader.execute(
                select(events.c.id).where(due).order_by(events.c.created, events.c.id).limit(limit)
            ).scalars().all()
        if not ids:
            return []
        with self.engine.begin() as connection:  # the UPDATE claims only what is still due and free
            connection.execute(
                update(events).where(events.c.id.in_(ids), due)
                .values(claimed_by=worker, claimed_until=now + lease)
            )
            rows = connection.execute(
                select(events).where(events.c.id.in_(ids), events.c.claimed_by == worker,
                                     events.c.claimed_until == now + lease)
                .order_by(events.c.created, events.c.id)
            ).mappings().all()
            claimed = [(row, _event_or_none(connection, row)) for row in rows]
        return [StoredEvent(row["id"], event, row["attempts"], row["request_id"]) for row, event in claimed if event]

    def finish_event(self, connection: Connection, row_id: int, worker: str, **values: Any) -> bool:
        """Record the outcome of mapping inside the caller's transaction; False if the lease was lost."""
        result = connection.execute(_FINISH, {"b_id": row_id, "b_worker": worker, "claimed_by": None,
                                              "claimed_until": None, **values})
        return result.rowcount == 1

    def requeue_unresolved(self, connection: Connection, provider: str, customer_id: str, now: float) -> int:
        """Send a provider's customer's unresolved events back to mapping (their metadata may now resolve)."""
        result = connection.execute(
            update(events).where(events.c.status == UNRESOLVED, events.c.provider == provider,
                                 events.c.customer_id == customer_id, events.c.payload.is_not(None))
            .values(status=RECEIVED, next_attempt_at=now)
        )
        return result.rowcount

    def count_by_status(self) -> dict[str, int]:
        with reading(self.engine) as connection:
            rows = connection.execute(select(events.c.status, func.count()).group_by(events.c.status))
            return {status: count for status, count in rows}

    def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers."""
        try:
            with reading(self.engine) as connection:
                connection.execute(select(1))
        except SQLAlchemyError as exc:
            raise StoreUnavailable("the database does not answer") from exc

    # Enrichment cache, one per provider (ids are the provider's own, unique only within it).
    def cached_object(self, provider: str, object_id: str) -> tuple[dict[str, Any], float] | None:
        with reading(self.engine) as connection:
            row = connection.execute(
                select(provider_objects.c.payload, provider_objects.c.fetched_at)
                .where(provider_objects.c.provider == provider, provider_objects.c.object_id == object_id)
            ).first()
        return (json.loads(row[0]), row[1]) if row else None

    def cache_object(self, provider: str, object_id: str, payload: dict[str, Any], now: float,
                     claim: tuple[int, str] | None = None) -> None:
        """Cache a provider's object; with `claim` (event row id, worker) only while that worker holds the event."""
        with self.engine.begin() as connection:
            if claim is not None and not _still_claimed(connection, *claim):
                return
            statement = insert_for(connection, provider_objects).values(
                provider=provider, object_id=object_id, payload=json.dumps(payload), fetched_at=now)
            connection.execute(statement.on_conflict_do_update(
                index_elements=["provider", "object_id"],
                set_={"payload": statement.excluded.payload, "fetched_at": statement.excluded.fetched_at},
            ))

    def cache_objects(self, provider: str, objects: Mapping[str, Mapping[str, Any]], now: float) -> None:
        """Cache many of a provider's objects (by id) in one transaction, e.g. a listed page's customers."""
        if not objects:
            return
        with self.engine.begin() as connection:
            statement = insert_for(connection, provider_objects)
            connection.execute(
                statement.on_conflict_do_update(index_elements=["provider", "object_id"], set_={
                    "payload": statement.excluded.payload, "fetched_at": statement.excluded.fetched_at}),
                [{"provider": provider, "object_id": key, "payload": json.dumps(value), "fetched_at": now}
                 for key, value in objects.items()])

    # Deployment-wide controls.
    def control(self, name: str) -> str | None:
        with reading(self.engine) as connection:
            return connection.execute(
                select(controls.c.value).where(controls.c.name == name)).scalar_one_or_none()

    def set_control(self, name: str, value: str | None, now: float) -> None:
        with self.engine.begin() as connection:
            if value is None:
                connection.execute(delete(controls).where(controls.c.name == name))
                return
            statement = insert_for(connection, controls).values(name=name, value=value, updated_at=now)
            connection.execute(statement.on_conflict_do_update(
                index_elements=["name"], set_={"value": value, "updated_at": now}))

    def swap_control(self, name: str, expected: str | None, value: str, now: float) -> bool:
        """Set `name` to `value` only if it still holds `expected` (None: no row); True for the one caller that won."""
        with self.engine.begin() as connection:
            if expected is None:
                statement = insert_for(connection, controls).values(name=name, value=value, updated_at=now)
                return connection.execute(statement.on_conflict_do_nothing(index_elements=["name"])
                                          .returning(controls.c.name)).first() is not None
            return connection.execute(update(controls).where(
                controls.c.name == name, controls.c.value == expected).values(value=value, updated_at=now)
            ).rowcount == 1

    # Retention.
    def expire_payloads(self, before: float) -> int:
        """Delete the payloads of events that became final before `before` (docs/operations.md, "Retention"):
        mapped, unmapped and ignored ones once nothing they produced is still to be sent, unresolved and failed ones
        as they are. An unresolved event whose payload goes is `expired`: it can no longer be mapped."""
        final_at = func.coalesce(events.c.processed_at, events.c.received_at)
        open_tracks = select(track_events.c.id).where(
            track_events.c.event_id == events.c.event_id, track_events.c.state.in_(UNSETTLED))
        open_fields = select(field_values.c.field).where(
            field_values.c.event_id == events.c.event_id, field_values.c.state.in_(UNSETTLED))
        settled = and_(events.c.status.in_([MAPPED, UNMAPPED, IGNORED]), ~open_tracks.exists(), ~open_fields.exists())
        with self.engine.begin() as connection:
            connection.execute(
                update(track_events).where(track_events.c.payload.is_not(None), track_events.c.state.not_in(UNSETTLED),
                                           track_events.c.created_at < before).values(payload=None))
            result = connection.execute(
                update(events).where(
                    events.c.payload.is_not(None), final_at < before,
                    or_(settled, events.c.status.in_([UNRESOLVED, FAILED])),
                ).values(payload=None, status=case((events.c.status == UNRESOLVED, EXPIRED), else_=events.c.status))
            )
        return result.rowcount

    def stored_payloads(self) -> dict[str, Any]:
        """Events whose payload is still stored, by status, and when the oldest final one became final."""
        final = events.c.status.not_in([RECEIVED])
        with reading(self.engine) as connection:
            counts = connection.execute(select(events.c.status, func.count()).where(events.c.payload.is_not(None))
                                        .group_by(events.c.status)).all()
            oldest = connection.execute(select(func.min(func.coalesce(events.c.processed_at, events.c.received_at)))
                                        .where(events.c.payload.is_not(None), final)).scalar()
        return {"by_status": {status: count for status, count in counts}, "oldest_final_at": oldest}


# The SET clause comes from the parameters' column names.
_FINISH = update(events).where(events.c.id == bindparam("b_id"), events.c.claimed_by == bindparam("b_worker"))


def _still_claimed(connection: Connection, row_id: int, worker: str) -> bool:
    """Whether `worker` still holds event row `row_id` (on PostgreSQL the row is share-locked to commit, so a purge
    waits for this transaction or this transaction for the purge)."""
    query = select(events.c.id).where(events.c.id == row_id, events.c.claimed_by == worker)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    return connection.execute(query).first() is not None


def _free(table: Table, now: float) -> Any:
    return or_(table.c.claimed_until.is_(None), table.c.claimed_until < now)


def _event_or_none(connection: Connection, row: Any) -> Event | None:
    """A claimed row as an event; a row without a payload (purged) or with one that is not JSON is settled instead,
    so that the worker is never handed a row it cannot map."""
    if row["payload"] is None:
        outcome = {"status": PURGED, "detail": json.dumps({"purged": True})}
    else:
        try:
            return event_from_row(row)
        except (TypeError, ValueError) as exc:
            outcome = {"status": FAILED, "detail": json.dumps({"error": f"the stored payload is not JSON: {exc}"})}
    connection.execute(update(events).where(events.c.id == row["id"])
                       .values(claimed_by=None, claimed_until=None, **outcome))
    return None


def event_from_row(row: Any) -> Event:
    return Event(
        provider=row["provider"], id=row["event_id"], type=row["type"], created=row["created"],
        livemode=row["livemode"], api_version=row["api_version"], connect_account=row["connect_account"],
        customer_id=row["customer_id"], payload=json.loads(row["payload"]) if row["payload"] else {},
    )
