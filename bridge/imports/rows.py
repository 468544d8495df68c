"""One imported row into one metadata update: the id, the row's time, each other column typed as its field.

The columns are checked once, before anything is stored, when the source knows them up front (a CSV header, a
query's columns); a JSON Lines row's keys are checked row by row. A row that cannot be imported raises `BadRow`
naming the row (`row 17 (line 18)`) and what is wrong with it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from bridge.imports.cells import SKIP, CellError, convert
from bridge.imports.fields import FieldTypes, ImportSetupError
from bridge.imports.sources import Row
from bridge.mapping.operations import MetadataUpdate
from bridge.pendo.client import FIELD_NAME_RULE, ID_MAX_CHARS, VISITOR_ID_MAX_BYTES
from bridge.pendo.times import epoch_ms, too_far_ahead

ID_COLUMNS = {"account": "accountId", "visitor": "visitorId"}
_FIELD_NAME = re.compile(FIELD_NAME_RULE.removesuffix("$") + r"\Z")


class BadRow(Exception):
    """A row that cannot be imported; the message names the row and what is wrong with it."""


@dataclass
class RowReader:
    """Turns rows of one source into updates of one kind."""

    kind: str  # "account" | "visitor"
    types: FieldTypes
    date_format: str  # PENDO_DATE_FORMAT
    from_text: bool  # the source's cells are all text (CSV)
    create: bool = False  # PENDO_CREATE_ACCOUNTS
    id_column: str | None = None  # --id-column; default accountId / visitorId
    timestamp_column: str | None = None
    clock: Callable[[], float] = time.time
    fields_seen: set[str] = field(default_factory=set)  # every field a row gave a value for
    _id: str | None = None  # the id column, once the columns are known
    _fields: set[str] = field(default_factory=set)  # field columns already checked

    @property
    def wanted_id(self) -> str:
        return self.id_column or ID_COLUMNS[self.kind]

    def check_columns(self, columns: list[str]) -> None:
        """Refuse, before anything is stored, a header or a query whose columns cannot be imported."""
        self._id = self._find_id(columns)
        if self._id is None:
            raise ImportSetupError(f"there is no column {self.wanted_id!r} (the columns are: {', '.join(columns)}); "
                                   "name the id column with --id-column")
        if self.timestamp_column and self.timestamp_column not in columns:
            raise ImportSetupError(f"there is no column {self.timestamp_column!r} for --timestamp-column")
        fields = [c for c in columns if c not in (self._id, self.timestamp_column)]
        bad = [c for c in fields if not _FIELD_NAME.match(c)]
        if bad:
            raise ImportSetupError(f"columns {', '.join(map(repr, bad))} are not Pendo field names (letters, digits "
                                   "and _, not starting with a digit)")
        if not fields:
            raise ImportSetupError("there is no column besides the id: each other column is a custom field")
        untyped = [c for c in fields if self.types.of(c) is None]
        if self.from_text and untyped and self.types.pendo_problem and self.types.pendo_fields is None:
            raise ImportSetupError(f"{self.types.pendo_problem}; the columns {', '.join(untyped)} have no known type: "
                                   "give it with --type NAME=TYPE, or run again when Pendo answers")
        self._fields = set(fields)

    def _find_id(self, columns: Iterable[str]) -> str | None:
        columns = list(columns)
        if self.wanted_id in columns:
            return self.wanted_id
        folded = [c for c in columns if c.lower() == self.wanted_id.lower()]  # PostgreSQL folds unquoted aliases
        return folded[0] if len(folded) == 1 else None

    def update(self, row: Row, default_ms: int, rank: int) -> MetadataUpdate | None:
        """The row's values as an update at its time (`default_ms` without a timestamp column); None when every
        cell is empty."""
        if row.error:
            raise BadRow(f"{row.where} {row.error}")
        id_column = self._id or self._find_id(row.cells)
        if id_column is None:
            raise BadRow(f"{row.where} has no {self.wanted_id}")
        entity = self._entity_id(row, row.cells.get(id_column))
        moment = self._moment(row, default_ms)
        values = {}
        for name, raw in row.cells.items():
            if name in (id_column, self.timestamp_column):
                continue
            if name not in self._fields and not _FIELD_NAME.match(name):
                raise BadRow(f"{row.where}: {name!r} is not a Pendo field name (letters, digits and _)")
            try:
                value = convert(raw, self.types.of(name), self.date_format, self.from_text)
            except CellError as exc:
                raise BadRow(f"{row.where}: {name}: {exc}{self._type_note(name)}") from None
            if value is not SKIP:
                values[name] = value
        if not values:
            return None
        self.fields_seen.update(values)
        return MetadataUpdate(self.kind, entity, values, moment, rank=rank, create=self.create, rule="import")

    def _entity_id(self, row: Row, raw: Any) -> str:
        id_name = ID_COLUMNS[self.kind]
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)
        if not isinstance(raw, str) or not raw.strip():
            raise BadRow(f"{row.where}: the {id_name} is empty")
        entity = raw.strip()
        if "\x00" in entity:
            raise BadRow(f"{row.where}: the {id_name} holds a NUL character, which the database cannot keep")
        if self.kind == "visitor" and len(entity.encode()) > VISITOR_ID_MAX_BYTES:
            raise BadRow(f"{row.where}: the visitorId is over {VISITOR_ID_MAX_BYTES} bytes (Pendo truncates it)")
        if len(entity) > ID_MAX_CHARS:
            raise BadRow(f"{row.where}: the {id_name} is over {ID_MAX_CHARS} characters")
        return entity

    def _moment(self, row: Row, default_ms: int) -> int:
        column = self.timestamp_column
        raw = row.cells.get(column) if column else None
        if raw is None or raw == "":
            return default_ms
        try:
            moment = _epoch_ms(raw)
        except ValueError as exc:
            raise BadRow(f"{row.where}: {column}: {exc}") from None
        if too_far_ahead(moment, int(self.clock() * 1000)):
            raise BadRow(f"{row.where}: {column}: more than 5 minutes in the future")
        return moment

    def _type_note(self, name: str) -> str:
        kind = self.types.of(name)
        return f" (the field {name} is {kind}, by {self.types.origin.get(name)})" if kind else ""


def _epoch_ms(raw: Any) -> int:
    """A row's time: epoch ms or ISO 8601 (as the API takes them), or a SQL date/time (naive means UTC)."""
    if isinstance(raw, datetime):
        return round((raw if raw.tzinfo else raw.replace(tzinfo=UTC)).timestamp() * 1000)
    if isinstance(raw, date):
        return round(datetime(raw.year, raw.month, raw.day, tzinfo=UTC).timestamp() * 1000)
    return epoch_ms(int(raw) if isinstance(raw, str) and raw.strip().isdigit() else raw)
