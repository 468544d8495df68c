"""What happened per minute: events received (from the events ledger) and values and track events Pendo accepted
(counted as they are settled, since an outbox row keeps only its latest state)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import BigInteger, Connection, Engine, Table, cast, delete, func, select

from bridge.store.db import reading
from bridge.store.schema import delivery_minutes, events
from bridge.store.store import per_dialect

KEEP_MINUTES = 7 * 24 * 60


@per_dialect
def _count(insert: Callable[[Table], Any]) -> Any:
    statement = insert(delivery_minutes)
    return statement.on_conflict_do_update(
        index_elements=["minute"], set_={"delivered": delivery_minutes.c.delivered + statement.excluded.delivered})


def count_delivered(connection: Connection, now: float, count: int) -> None:
    """Add `count` deliveries to the minute of `now`, inside the caller's transaction; forget minutes past a week."""
    if count <= 0:
        return
    minute = int(now // 60)
    connection.execute(_count(connection), {"minute": minute, "delivered": count})
    connection.execute(delete(delivery_minutes).where(delivery_minutes.c.minute < minute - KEEP_MINUTES))


def delivered_per_minute(engine: Engine, first: int, last: int) -> dict[int, int]:
    """Deliveries per minute (unix seconds // 60) from `first` to `last`, both included; empty minutes left out."""
    with reading(engine) as connection:
        rows = connection.execute(select(delivery_minutes.c.minute, delivery_minutes.c.delivered)
                                  .where(delivery_minutes.c.minute.between(first, last))).all()
    return {int(minute): int(count) for minute, count in rows}


def received_per_minute(engine: Engine, first: int, last: int) -> dict[int, int]:
    """Events received per minute from `first` to `last`, both included (read from the received_at index)."""
    with reading(engine) as connection:
        minute = _minute(connection, events.c.received_at)
        rows = connection.execute(
            select(minute, func.count()).where(events.c.received_at >= first * 60,
                                               events.c.received_at < (last + 1) * 60).group_by(minute)).all()
    return {int(m): int(count) for m, count in rows}


def _minute(connection: Connection, seconds: Any) -> Any:
    """unix seconds // 60 in SQL: SQLite truncates when casting (the times are positive), PostgreSQL rounds."""
    if connection.dialect.name == "sqlite":
        return cast(seconds / 60, BigInteger)
    return func.floor(seconds / 60)
