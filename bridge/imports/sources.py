"""Where imported rows come from, one at a time: a CSV file, a JSON Lines file, or a query on your own database.

Every source streams: a CSV or JSON Lines file is read row by row, and a query's rows come through a
server-side cursor (`stream_results`, a thousand at a time), so memory stays flat however many rows there are.
Each source has an identity — the file's path, size and modification time, or the query and the database — by
which an interrupted import knows it may resume.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from bridge.errors import BridgeError
from bridge.imports.fields import ImportSetupError
from bridge.settings import normalise_database_url

FETCH_ROWS = 1000  # rows per fetch from the server-side cursor


@dataclass(frozen=True)
class Row:
    """One input row: its number (1 = the first row of data), where it is for a message, its cells."""

    number: int
    where: str
    cells: dict[str, Any]
    error: str | None = None  # a row that could not be read at all (a line that is not a JSON object)


@dataclass
class Opened:
    """A source being read: its columns when known up front (CSV header, query), and its rows."""

    columns: list[str] | None
    rows: Iterator[Row]


class Source(Protocol):
    identity: str
    description: str
    from_text: bool  # its cells are all text (CSV): they take their type from the field

    def open(self) -> Any:
        """A context manager giving an `Opened`."""


def _file_identity(path: Path) -> str:
    try:
        stat = path.stat()
    except OSError as exc:
        raise ImportSetupError(f"{path}: cannot be read: {exc.strerror}") from None
    return f"file:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


class CsvFile:
    """A CSV file with a header row (UTF-8, a byte-order mark is fine)."""

    from_text = True

    def __init__(self, path: Path):
        self.path, self.description = path, str(path)
        self.identity = _file_identity(path)

    @contextmanager
    def open(self) -> Iterator[Opened]:
        with self.path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                raise ImportSetupError(f"{self.path}: the file is empty; its first line must name the columns")
            yield Opened([name.strip() for name in header], self._rows(reader, [name.strip() for name in header]))

    @staticmethod
    def _rows(reader: Any, header: list[str]) -> Iterator[Row]:
        number = 0
        while True:
            number += 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # a NUL byte, an unterminated quote: the row is bad, the file goes on
                yield Row(number, f"row {number} (line {reader.line_num})", {}, f"is not CSV: {exc}")
                continue
            where = f"row {number} (line {reader.line_num})"
            if not cells:
                number -= 1
                continue
            if len(cells) != len(header):
                yield Row(number, where, {}, f"has {len(cells)} cells; the header names {len(header)} columns")
                continue
            yield Row(number, where, dict(zip(header, cells, strict=True)))


class JsonLinesFile:
    """One JSON object per line: `{"accountId": "acme", "seats": 12, ...}`."""

    from_text = False

    def __init__(self, path: Path):
        self.path, self.description = path, str(path)
        self.identity = _file_identity(path)

    @contextmanager
    def open(self) -> Iterator[Opened]:
        with self.path.open(encoding="utf-8-sig") as handle:
            yield Opened(None, self._rows(handle))

    @staticmethod
    def _rows(handle: Any) -> Iterator[Row]:
        number = 0
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            number += 1
            where = f"row {number} (line {line_number})"
            try:
                cells = json.loads(line)
            except ValueError as exc:
                yield Row(number, where, {}, f"is not JSON: {exc}")
                continue
            if not isinstance(cells, dict):
                yield Row(number, where, {}, "is not a JSON object")
                continue
            yield Row(number, where, cells)


def database_url(url: str) -> str:
    """Any SQLAlchemy URL; `postgres://` as PaaS write it goes to the installed psycopg driver."""
    return normalise_database_url(url) if url.startswith(("postgres://", "postgresql://")) else url


class Query:
    """The rows of a SELECT on your own database, read through a server-side cursor inside a transaction that is
    rolled back (use a read-only role all the same)."""

    from_text = False

    def __init__(self, url: str, sql: str):
        try:
            parsed = make_url(database_url(url))
        except ArgumentError:
            raise ImportSetupError("--from (or BRIDGE_IMPORT_DATABASE_URL) is not a database URL such as "
                                   "postgresql://user@host/db") from None
        self.url, self.sql = parsed, sql
        self.description = f"query on {parsed.render_as_string(hide_password=True)}"
        self.identity = "sql:" + hashlib.sha256(
            f"{parsed.render_as_string(hide_password=True)}\n{sql}".encode()).hexdigest()

    @contextmanager
    def open(self) -> Iterator[Opened]:
        try:
            engine = create_engine(self.url)
        except (ArgumentError, ImportError) as exc:
            raise ImportSetupError(f"cannot use the {self.description}: {type(exc).__name__}: {exc}") from None
        try:
            with self._connect(engine) as connection, connection.begin() as transaction:
                try:
                    result = connection.execution_options(stream_results=True, yield_per=FETCH_ROWS).execute(
                        text(self.sql))
                except SQLAlchemyError as exc:
                    raise ImportSetupError(f"the query failed on the {self.description}: {_reason(exc)}") from None
                yield Opened(list(result.keys()), self._rows(result))
                transaction.rollback()
        finally:
            engine.dispose()

    def _connect(self, engine: Any) -> Any:
        try:
            return engine.connect()
        except SQLAlchemyError as exc:
            raise ImportSetupError(f"cannot connect to the {self.description}: {_reason(exc)}") from None

    def _rows(self, result: Any) -> Iterator[Row]:
        number = 0
        try:
            for number, row in enumerate(result.mappings(), start=1):
                yield Row(number, f"row {number}", dict(row))
        except SQLAlchemyError as exc:
            raise SourceError(f"reading the {self.description} failed after row {number}: {_reason(exc)}") from None


class SourceError(BridgeError):
    """The source failed while being read (a dropped connection): what was stored stays, a rerun resumes."""


def _reason(exc: SQLAlchemyError) -> str:
    return str(getattr(exc, "orig", None) or exc).strip()[:500]
