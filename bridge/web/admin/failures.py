"""Failed, held and unresolved rows grouped by their reason, and sending them round again.

A retry puts rows back where the worker picks them up: values and track events `pending` with their attempts reset
(the last error stays until they are delivered), events `received` to be mapped again (a held event whose API
version this bridge still cannot read is held again). Rows a worker holds right now
are left alone, and a row that changed state meanwhile (a newer value arrived) is not touched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, func, or_, select, update

from bridge.store.db import reading
from bridge.store.schema import events, field_values, track_events

EXAMPLES = 5
METADATA, TRACK, EVENT = "metadata", "track", "event"


@dataclass(frozen=True)
class Source:
    """One table the Failures page reads: which states count as failures and how a row goes round again."""

    name: str
    table: Table
    state: Any  # the state column
    reason: Any  # the column saying why
    time: Any  # when it last changed
    states: tuple[str, ...]
    retry: dict[str, Any]  # the SET clause of a retry, `now` filled in later

    def again(self, now: float) -> dict[str, Any]:
        return {key: now if value == "now" else value for key, value in self.retry.items()}


SOURCES = {
    METADATA: Source(METADATA, field_values, field_values.c.state, field_values.c.last_error, field_values.c.updated_at,
                     ("failed", "held"), {"state": "pending", "attempts": 0, "next_attempt_at": "now",
                                          "first_missing_at": None}),
    TRACK: Source(TRACK, track_events, track_events.c.state, track_events.c.last_error, track_events.c.created_at,
                  ("failed",), {"state": "pending", "attempts": 0, "next_attempt_at": "now"}),
    EVENT: Source(EVENT, events, events.c.status, events.c.detail, events.c.received_at,
                  ("failed", "unresolved", "held"), {"status": "received", "attempts": 0, "next_attempt_at": "now"}),
}


@dataclass
class Group:
    """Rows of one source in one state for one reason."""

    source: str
    state: str
    reason: str  # "" when none was recorded
    count: int
    latest: float
    examples: list[Any] = field(default_factory=list)  # a few of its rows, newest first

    @property
    def label(self) -> str:
        """The reason in words: an event's stored detail is JSON (the mapping's error, or its unresolved rules)."""
        if self.source != EVENT or not self.reason.startswith("{"):
            return self.reason
        try:
            detail = json.loads(self.reason)
        except ValueError:
            return self.reason
        if detail.get("error"):
            return f"the mapping failed: {detail['error']}"
        if detail.get("unresolved"):
            return "no Pendo account id resolved for " + ", ".join(detail["unresolved"])
        return self.reason


def _same_reason(source: Source, reason: str) -> Any:
    return or_(source.reason.is_(None), source.reason == "") if reason == "" else source.reason == reason


def _free(source: Source, now: float) -> Any:
    claimed = source.table.c.claimed_until
    return or_(claimed.is_(None), claimed < now)


def groups(engine: Engine) -> list[Group]:
    """Every group, the biggest first, each with a few example rows."""
    found: list[Group] = []
    with reading(engine) as connection:
        for source in SOURCES.values():
            rows = connection.execute(
                select(source.state, source.reason, func.count(), func.max(source.time))
                .where(source.state.in_(source.states)).group_by(source.state, source.reason)).all()
            for state, reason, count, latest in rows:
                group = Group(source.name, state, reason or "", count, latest or 0.0)
                group.examples = _examples(connection, source, group)
                found.append(group)
    return sorted(found, key=lambda g: (-g.count, -g.latest))


def _examples(connection: Connection, source: Source, group: Group) -> list[Any]:
    return list(connection.execute(
        select(source.table).where(source.state == group.state, _same_reason(source, group.reason))
        .order_by(source.time.desc()).limit(EXAMPLES)).mappings())


def count_group(engine: Engine, source_name: str, state: str, reason: str) -> int:
    source = SOURCES[source_name]
    if state not in source.states:
        return 0
    with reading(engine) as connection:
        return int(connection.execute(select(func.count()).select_from(source.table).where(
            source.state == state, _same_reason(source, reason))).scalar_one())


def retry_group(engine: Engine, source_name: str, state: str, reason: str, now: float) -> int:
    """Send every row of a group round again; how many went."""
    source = SOURCES[source_name]
    if state not in source.states:
        return 0
    with engine.begin() as connection:
        return connection.execute(update(source.table).where(
            source.state == state, _same_reason(source, reason), _free(source, now)).values(**source.again(now))
        ).rowcount


def retry_one(engine: Engine, source_name: str, key: dict[str, str], now: float) -> int:
    """Send one row round again (metadata: kind, entity_id, field; track and event: id); 1 when it went."""
    source = SOURCES[source_name]
    table = source.table
    if source_name == METADATA:
        which = and_(table.c.kind == key.get("kind"), table.c.entity_id == key.get("entity_id"),
                     table.c.field == key.get("field"))
    else:
        try:
            which = table.c.id == int(key.get("id", ""))
        except ValueError:
            return 0
    with engine.begin() as connection:
        return connection.execute(update(table).where(which, source.state.in_(source.states), _free(source, now))
                                  .values(**source.again(now))).rowcount
