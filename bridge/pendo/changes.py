"""Which incoming metadata values would change what is stored — the question behind `duplicates`, the import's
`changed` count and `--dry-run`.

A value changes nothing when the stored value for its (kind, id, field) is the same, or newer by
(source_time, rank) — the outbox's ordering guard keeps it. Values the store already has are not sent to Pendo
again (`bridge.pendo.outbox`), so an unchanged value costs no Pendo call.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from bridge.mapping.operations import MetadataUpdate
from bridge.pendo import outbox
from bridge.store.schema import field_values
from bridge.store.store import one_of

FieldKey = tuple[str, str, str]  # kind, entity id, field
LOOKUP_CHUNK = 500  # entities per SELECT


@dataclass(frozen=True)
class Stored:
    """What the store holds for one field."""

    value: str  # JSON, as stored
    source_time: int
    rank: int

    @property
    def decoded(self) -> Any:
        return json.loads(self.value)


@dataclass(frozen=True)
class Incoming:
    """The newest incoming value of one field, with the update it came from."""

    update: MetadataUpdate
    value: Any

    @property
    def order(self) -> tuple[int, int]:
        return self.update.source_time, self.update.rank


def newest(updates: Iterable[MetadataUpdate]) -> dict[FieldKey, Incoming]:
    """Each field's newest value among `updates`; of two with the same (source_time, rank) the later one wins."""
    found: dict[FieldKey, Incoming] = {}
    for update in updates:
        for name, value in update.values.items():
            key = (update.kind, update.id, name)
            known = found.get(key)
            if known is None or known.order <= (update.source_time, update.rank):
                found[key] = Incoming(update, value)
    return found


def stored(connection: Connection, entities: Iterable[tuple[str, str]]) -> dict[FieldKey, Stored]:
    """The stored values of every field of these (kind, id) entities."""
    fv = field_values.c
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, entity in sorted(set(entities)):
        by_kind[kind].append(entity)
    found: dict[FieldKey, Stored] = {}
    for kind, ids in by_kind.items():
        for start in range(0, len(ids), LOOKUP_CHUNK):
            rows = connection.execute(
                select(fv.kind, fv.entity_id, fv.field, fv.value, fv.source_time, fv.rank)
                .where(fv.kind == kind, one_of(connection, fv.entity_id, ids[start:start + LOOKUP_CHUNK])))
            found.update({(r[0], r[1], r[2]): Stored(r[3], int(r[4]), int(r[5])) for r in rows})
    return found


def changes(incoming: dict[FieldKey, Incoming], have: dict[FieldKey, Stored]) -> dict[FieldKey, Stored | None]:
    """The fields whose incoming value would change the store, each with what it holds now (None: nothing)."""
    found: dict[FieldKey, Stored | None] = {}
    for key, new in incoming.items():
        old = have.get(key)
        if old is None:
            found[key] = None
        elif (old.source_time, old.rank) < new.order and old.value != json.dumps(new.value, sort_keys=True):
            found[key] = old
    return found


def rows(incoming: dict[FieldKey, Incoming], event_id: str | None, now: float,
         source: str | None) -> list[dict[str, Any]]:
    """The outbox rows (`outbox.enqueue_fields`) of the incoming values, one per field."""
    return [outbox.field_row(new.update, key[2], new.value, event_id, None, now, source)
            for key, new in incoming.items()]
