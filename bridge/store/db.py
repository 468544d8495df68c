"""Database engines: SQLite with durable WAL commits by default, PostgreSQL with a small pool."""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError

from bridge.settings import Settings

MIGRATIONS = Path(__file__).with_name("migrations")


READ_ONLY = "bridge_read_only"  # execution option of a connection that only reads (`reading`)


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A transaction that only reads: one consistent snapshot, and on SQLite no write lock (a plain `connect()`
    begins like a writer, with BEGIN IMMEDIATE)."""
    with engine.connect() as connection:
        connection.execution_options(**{READ_ONLY: True})
        with connection.begin():
            yield connection


def describe(exc: BaseException) -> str:
    """The driver's first line about a database error, for a log line: without the statement and the row values
    SQLAlchemy appends (they may hold customer data)."""
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).splitlines() or [""])[0]
    return f"{type(orig).__name__}: {first}"[:200]


def make_engine(settings: Settings, pool_size: int = 3) -> Engine:
    """An engine for `settings.database_url`, tuned for the backend. Its errors never carry the statement's
    parameters (event payloads, customer data), so a logged database error cannot leak them."""
    if settings.is_sqlite:
        return _sqlite_engine(settings.database_url)
    return create_engine(
        settings.database_url,
        pool_size=pool_size,
        max_overflow=2,
        pool_pre_ping=True,
        pool_recycle=300,
        hide_parameters=True,
    )


def _sqlite_engine(url: str) -> Engine:
    # The pysqlite driver's own transaction handling is switched off so that every transaction
    # starts with BEGIN IMMEDIATE: writers queue on the busy timeout instead of failing to upgrade.
    engine = create_engine(url, connect_args={"timeout": 30, "isolation_level": None}, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before we acknowledge the webhook, even across power loss.
        # NORMAL in WAL mode may lose the last commits on power loss, and an acknowledged event with them.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        raw = connection.connection.dbapi_connection
        try:
            if connection.get_execution_options().get(READ_ONLY):
                raw.execute("BEGIN")  # a snapshot to read from: no write lock (WAL)
            else:
                begin_immediate(raw)
        except sqlite3.Error as exc:  # raised from this hook, SQLAlchemy would not wrap it as its own
            raise DBAPIError.instance("BEGIN", None, exc, sqlite3.Error, hide_parameters=True) from exc

    return engine


# SQLite's own busy handler backs off to 100 ms sleeps, so a webhook waiting for the write lock would wait for the
# end of a sleep, not for the lock. Instead a writer polls for it, every LOCK_POLL_SECONDS at first.
LOCK_WAIT_SECONDS = 30.0
LOCK_POLL_SECONDS = 0.0005  # doubling every 4 tries up to LOCK_POLL_MAX_SECONDS: a long wait costs little CPU
LOCK_POLL_MAX_SECONDS = 0.001


def yield_write_lock(engine: Engine) -> None:
    """Between two write transactions of one loop, on SQLite: wait a little longer than a writer polling for the
    lock (a webhook) waits between its tries, so that it gets the lock between them. SQLite's lock goes to whoever
    asks first after a commit, and a loop asking again at once wins it every time: webhooks waited through whole
    loops of the worker's short transactions."""
    if engine.dialect.name == "sqlite":
        time.sleep(LOCK_POLL_MAX_SECONDS * 1.5)


def begin_immediate(raw: Any) -> None:
    """BEGIN IMMEDIATE on a pysqlite connection, polling for the write lock for up to LOCK_WAIT_SECONDS; the driver's
    own OperationalError when the lock never comes (its callers raise it as SQLAlchemy's)."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    raw.execute("PRAGMA busy_timeout=0")
    try:
        for attempt in itertools.count():
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(min(LOCK_POLL_SECONDS * 2 ** min(attempt // 4, 3), LOCK_POLL_MAX_SECONDS))
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(LOCK_WAIT_SECONDS * 1000)}")


@contextmanager
def driver_transaction(engine: Engine) -> Iterator[Any]:
    """A write transaction on the driver's own cursor, for the webhook ingest: a statement run through SQLAlchemy's
    Connection costs several times what the database takes to run it. Committed when the block ends, rolled back
    when it raises; the driver's errors come out as SQLAlchemy's (IntegrityError, DataError, OperationalError …),
    and a connection that fails other than on a value is dropped from the pool."""
    dbapi = engine.dialect.loaded_dbapi
    try:
        connection = engine.raw_connection()  # the pool's checkout, with its pre-ping on PostgreSQL
    except dbapi.Error as exc:  # unlike engine.connect(), raw_connection() does not wrap it
        raise DBAPIError.instance(None, None, exc, dbapi.Error, hide_parameters=True) from exc
    try:
        if engine.dialect.name == "sqlite":
            begin_immediate(connection.dbapi_connection)
        yield connection.cursor()
        connection.commit()
    except dbapi.Error as exc:
        _abandon(connection, exc, dbapi)
        raise DBAPIError.instance(None, None, exc, dbapi.Error, hide_parameters=True) from exc
    except BaseException as exc:
        _abandon(connection, exc, dbapi)
        raise
    finally:
        connection.close()


def _abandon(connection: Any, exc: BaseException, dbapi: Any) -> None:
    """Roll back; drop the connection unless the error was about a value (the connection itself is fine then)."""
    if isinstance(exc, dbapi.DataError | dbapi.IntegrityError | UnicodeError):
        try:
            connection.rollback()
            return
        except dbapi.Error:
            pass
    connection.invalidate()


def migrate(settings: Settings) -> None:
    """Bring the database to the newest schema; safe to run any number of times."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = make_engine(settings, pool_size=1)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
