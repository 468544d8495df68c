"""The event list: filters and keyset pages, newest first, each filter served by an index of `received_at, id`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Engine, RowMapping, and_, or_, select

from bridge.store.db import reading
from bridge.store.schema import events

PAGE_SIZE = 50
LIST_COLUMNS = (events.c.id, events.c.provider, events.c.event_id, events.c.type, events.c.status,
                events.c.customer_id, events.c.account_id, events.c.received_at, events.c.created)


@dataclass(frozen=True)
class EventFilter:
    """What the list shows; empty fields do not filter. Times are unix seconds of receipt, `until` excluded."""

    provider: str = ""
    type: str = ""
    status: str = ""
    customer: str = ""
    account: str = ""
    since: float | None = None
    until: float | None = None

    def conditions(self) -> list[Any]:
        """The WHERE clauses. Only the most selective equality may use its index: SQLite, which keeps no
        statistics here, would otherwise pick `status` for status=mapped AND customer=… and read most of the table."""
        chosen = [(column, value) for column, value in sorted(self._equalities(), key=_selectivity) if value]
        found = [column == value if index == 0 else column.concat("") == value  # `|| ''`: not indexable
                 for index, (column, value) in enumerate(chosen)]
        if self.since is not None:
            found.append(events.c.received_at >= self.since)
        if self.until is not None:
            found.append(events.c.received_at < self.until)
        return found

    def _equalities(self) -> list[tuple[Any, str]]:
        return [(events.c.provider, self.provider), (events.c.type, self.type), (events.c.status, self.status),
                (events.c.customer_id, self.customer), (events.c.account_id, self.account)]

    def active(self) -> bool:
        return any(getattr(self, f.name) not in ("", None) for f in fields(self))


# Most selective first: a customer or account has few events; most events are `mapped`, few are anything else;
# a type is a slice of the events; there are few providers.
_RANKS = {"customer_id": 0, "account_id": 1, "status": 2, "type": 3, "provider": 5}


def _selectivity(item: tuple[Any, str]) -> int:
    column, value = item
    return 4 if column.name == "status" and value == "mapped" else _RANKS[column.name]


@dataclass(frozen=True)
class Cursor:
    """A position in the list: the (received_at, id) of the row next to it."""

    received_at: float
    row_id: int

    def encode(self) -> str:
        return f"{self.received_at!r}_{self.row_id}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        """The cursor in a link, or None when there is none or it is not one of ours."""
        if not text:
            return None
        received, _, row_id = text.partition("_")
        try:
            return cls(float(received), int(row_id))
        except ValueError:
            return None


@dataclass(frozen=True)
class EventPage:
    """One page of events, newest first, with the cursors of the neighbouring pages (None at either end)."""

    rows: Sequence[RowMapping]
    newer: Cursor | None
    older: Cursor | None


def _older_than(cursor: Cursor) -> Any:
    return or_(events.c.received_at < cursor.received_at,
               and_(events.c.received_at == cursor.received_at, events.c.id < cursor.row_id))


def _newer_than(cursor: Cursor) -> Any:
    return or_(events.c.received_at > cursor.received_at,
               and_(events.c.received_at == cursor.received_at, events.c.id > cursor.row_id))


def _cursor(row: RowMapping) -> Cursor:
    return Cursor(float(row["received_at"]), int(row["id"]))


def page(engine: Engine, where: EventFilter, older_than: Cursor | None = None, newer_than: Cursor | None = None,
         size: int = PAGE_SIZE) -> EventPage:
    """The page after `older_than` (older rows), or before `newer_than`, or the newest page."""
    query = select(*LIST_COLUMNS).where(*where.conditions()).limit(size + 1)
    newest_first = (events.c.received_at.desc(), events.c.id.desc())
    with reading(engine) as connection:
        if newer_than is not None:
            found = connection.execute(query.where(_newer_than(newer_than))
                                       .order_by(events.c.received_at, events.c.id)).mappings().all()
            more_newer, rows = len(found) > size, list(reversed(found[:size]))
            return EventPage(rows, _cursor(rows[0]) if rows and more_newer else None,
                             _cursor(rows[-1]) if rows else None)
        if older_than is not None:
            query = query.where(_older_than(older_than))
        found = connection.execute(query.order_by(*newest_first)).mappings().all()
    rows = list(found[:size])
    return EventPage(rows, _cursor(rows[0]) if rows and older_than is not None else None,
                     _cursor(rows[-1]) if len(found) > size else None)


def find(engine: Engine, provider: str, event_id: str) -> RowMapping | None:
    """One stored event by its provider's id (the unique index), with its payload and detail."""
    with reading(engine) as connection:
        return connection.execute(select(events).where(events.c.provider == provider,
                                                       events.c.event_id == event_id)).mappings().first()
