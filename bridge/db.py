"""Database engines: SQLite with durable WAL commits by default, PostgreSQL with a small pool."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event

from bridge.settings import Settings

MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(settings: Settings, pool_size: int = 3) -> Engine:
    """An engine for `settings.database_url`, tuned for the backend."""
    if settings.is_sqlite:
        return _sqlite_engine(settings.database_url)
    return create_engine(
        settings.database_url,
        pool_size=pool_size,
        max_overflow=2,
        pool_pre_ping=True,
        pool_recycle=300,
    )


def _sqlite_engine(url: str) -> Engine:
    # The pysqlite driver's own transaction handling is switched off so that every transaction
    # starts with BEGIN IMMEDIATE: writers queue on the busy timeout instead of failing to upgrade.
    engine = create_engine(url, connect_args={"timeout": 30, "isolation_level": None})

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
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


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
