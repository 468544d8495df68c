"""`bridge import accounts|visitors`: rows of a file or a query into the metadata outbox, a thousand per commit.

Each row is one account or visitor: its id column, then one column per custom field. Its values are typed by the
field's type (`fields`, `cells`) and written through the outbox's ordering guard at the run's start time, each
row ranked by its number so that a later row wins over an earlier one for the same id. Values equal to what the
store has — what Pendo was last sent — stay as they are and are not sent again, so a full nightly export sends
only the changes.

The run's cursor (the last row committed, the source's identity, the run's time) is written in the same
transaction as each chunk of rows: an interrupted import run again with the same source resumes after the last
committed row. A bad row stops the run with its number (the rows before it are stored), unless bad rows are
skipped and counted. A dry run compares with the store and prints what would change, writing nothing.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from bridge.imports.fields import FieldTypes
from bridge.imports.rows import BadRow, RowReader
from bridge.imports.runs import CURSOR, LAST_RUN
from bridge.imports.sources import Row, Source
from bridge.mapping.operations import MetadataUpdate
from bridge.ops.progress import Progress
from bridge.pendo import changes, outbox
from bridge.settings import Settings
from bridge.store.db import reading
from bridge.store.schema import controls
from bridge.store.store import Store, insert_for

log = logging.getLogger("bridge.import")

CHUNK_ROWS = 1000
ANALYZE_FROM = 10_000  # changed values after which PostgreSQL's statistics are refreshed, then at each tenfold
BAD_ROWS_SHOWN = 20


@dataclass(frozen=True)
class ImportOptions:
    kind: str  # "account" | "visitor"
    label: str  # the source shown in `bridge status`: import:<label>
    id_column: str | None = None
    timestamp_column: str | None = None
    dry_run: bool = False
    skip_bad_rows: bool = False
    restart: bool = False

    @property
    def source(self) -> str:
        return f"import:{self.label}"


@dataclass
class ImportReport:
    """What a run read and did."""

    run_id: str
    source: str
    dry_run: bool
    resumed_after: int = 0
    rows: int = 0
    entities: int = 0
    changed_entities: int = 0
    changed_values: int = 0
    bad_rows: int = 0
    bad_examples: list[str] = field(default_factory=list)
    stopped_at: str | None = None  # the bad row that stopped the run

    def summary(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "source": self.source, "dry_run": self.dry_run,
                "resumed_after_row": self.resumed_after, "rows": self.rows, "entities": self.entities,
                "changed_entities": self.changed_entities, "changed_values": self.changed_values,
                "bad_rows": self.bad_rows, "stopped_at": self.stopped_at}


@dataclass
class Importer:
    """One import run of one source into one kind's metadata."""

    settings: Settings
    store: Store
    source: Source
    options: ImportOptions
    types: FieldTypes
    clock: Callable[[], float] = time.time
    progress: Progress | None = None
    show: Callable[[str], None] = print  # a dry run's lines
    rows: RowReader = field(init=False)
    _saved_through: int = 0  # the row number the cursor holds
    _analyze_at: int = 0

    def __post_init__(self) -> None:
        self._analyze_at = ANALYZE_FROM
        self.rows = RowReader(self.options.kind, self.types, self.settings.pendo_date_format, self.source.from_text,
                              self.settings.pendo_create_accounts, self.options.id_column,
                              self.options.timestamp_column, self.clock)

    @property
    def fields_seen(self) -> set[str]:
        return self.rows.fields_seen

    def run(self) -> ImportReport:
        cursor = None if self.options.dry_run or self.options.restart else self._cursor()
        run_id = cursor["run_id"] if cursor else uuid.uuid4().hex[:12]
        started_ms = int(cursor["started_ms"]) if cursor else int(self.clock() * 1000)
        report = ImportReport(run_id, self.options.source, self.options.dry_run, int(cursor["rows"]) if cursor else 0)
        self._saved_through = report.resumed_after
        if cursor:
            log.info("resuming an interrupted import",
                     extra={"source": report.source, "after_row": report.resumed_after})
        with self.source.open() as opened:
            if opened.columns is not None:
                self.rows.check_columns(opened.columns)
            self._read(opened.rows, report, started_ms)
        if self.progress:
            self.progress.finish()
        if not self.options.dry_run:
            self._finish(report)
        return report

    def _read(self, rows: Iterable[Row], report: ImportReport, started_ms: int) -> None:
        chunk: list[MetadataUpdate] = []
        last = report.resumed_after
        for row in rows:
            if row.number <= report.resumed_after:
                continue
            report.rows += 1
            try:
                update = self.rows.update(row, started_ms, rank=row.number)
            except BadRow as bad:
                report.bad_rows += 1
                if len(report.bad_examples) < BAD_ROWS_SHOWN:
                    report.bad_examples.append(str(bad))
                if not self.options.skip_bad_rows:
                    report.stopped_at = str(bad)
                    break
                update = None
            if update is not None:
                chunk.append(update)
            last = row.number
            if len(chunk) >= CHUNK_ROWS:
                self._flush(chunk, last, report, started_ms)
                chunk = []
        self._flush(chunk, last, report, started_ms)

    # Storing.
    def _flush(self, chunk: list[MetadataUpdate], through: int, report: ImportReport, started_ms: int) -> None:
        if not chunk and through == self._saved_through:
            return  # nothing read since the last commit
        incoming = changes.newest(chunk)
        entities = {(u.kind, u.id) for u in chunk}
        if self.options.dry_run:
            with reading(self.store.engine) as connection:
                found = changes.changes(incoming, changes.stored(connection, entities))
            self._show(found, incoming)
        else:
            with self.store.transaction() as connection:
                found = changes.changes(incoming, changes.stored(connection, entities))
                outbox.enqueue_fields(connection, changes.rows(
                    incoming, f"{self.options.source}:{report.run_id}", self.clock(), self.options.source))
                self._save_cursor(connection, report, through, started_ms)
            self._saved_through = through
        report.entities += len(entities)
        report.changed_entities += len({(kind, entity) for kind, entity, _ in found})
        report.changed_values += len(found)
        if not self.options.dry_run and report.changed_values >= self._analyze_at:
            self._analyze(report.changed_values)
        if self.progress:
            self.progress.update(rows=report.rows, changed=report.changed_entities, bad=report.bad_rows)

    def _show(self, found: dict[changes.FieldKey, changes.Stored | None], incoming: dict[changes.FieldKey,
                                                                                        changes.Incoming]) -> None:
        for key in sorted(found):
            kind, entity, name = key
            before = found[key]
            shown = "(not set)" if before is None else json.dumps(before.decoded)
            self.show(f"{kind} {entity}: {name}: {shown} -> {json.dumps(incoming[key].value)}")

    def _analyze(self, changed: int) -> None:
        """Tell PostgreSQL the outbox grew: planned from statistics of a nearly empty table, the worker's claims took
        seconds each over the import's backlog until autovacuum came round (minutes on a busy server)."""
        self._analyze_at = changed * 10
        if self.store.engine.dialect.name != "postgresql":
            return
        try:
            with self.store.transaction() as connection:
                connection.exec_driver_sql("ANALYZE field_values")
        except SQLAlchemyError as exc:
            log.warning("the outbox's statistics could not be refreshed (ANALYZE field_values)",
                        extra={"reason": str(getattr(exc, "orig", exc))[:200]})

    # The cursor.
    @property
    def _cursor_name(self) -> str:
        return CURSOR.format(kind=self.options.kind, label=self.options.label)

    def _cursor(self) -> dict[str, Any] | None:
        raw = self.store.control(self._cursor_name)
        try:
            cursor = json.loads(raw) if raw else None
        except ValueError:
            return None
        if not isinstance(cursor, dict):
            return None
        if cursor.get("identity") != self.source.identity:
            log.info("an interrupted import of another source (or of this file before it changed) is not "
                     "resumed: starting over", extra={"source": self.options.source})
            return None
        return cursor

    def _save_cursor(self, connection: Connection, report: ImportReport, through: int, started_ms: int) -> None:
        value = json.dumps({"run_id": report.run_id, "identity": self.source.identity, "rows": through,
                            "started_ms": started_ms})
        statement = insert_for(connection, controls).values(name=self._cursor_name, value=value,
                                                           updated_at=self.clock())
        connection.execute(statement.on_conflict_do_update(
            index_elements=["name"], set_={"value": value, "updated_at": self.clock()}))

    def _finish(self, report: ImportReport) -> None:
        """Record the run for `bridge status`; a finished run's cursor goes (a stopped one's stays, to resume)."""
        now = self.clock()
        if report.stopped_at is None:
            self.store.set_control(self._cursor_name, None, now)
        self.store.set_control(LAST_RUN.format(kind=self.options.kind, label=self.options.label),
                               json.dumps({**report.summary(), "finished_at": now}), now)
