"""SQLite writers: BEGIN IMMEDIATE polled for the write lock, within LOCK_WAIT_SECONDS."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from bridge.store import db
from bridge.store.db import make_engine, migrate
from tests.conftest import make_settings


@pytest.fixture
def engines(sqlite_url: str) -> tuple[Engine, Engine]:
    settings = make_settings(sqlite_url)
    migrate(settings)
    return make_engine(settings), make_engine(settings)  # two processes' engines on one file


def hold_lock(engine: Engine, seconds: float, taken: threading.Event) -> threading.Thread:
    def hold() -> None:
        with engine.begin() as connection:
            connection.execute(text("UPDATE controls SET value = value"))
            taken.set()
            time.sleep(seconds)
    thread = threading.Thread(target=hold)
    thread.start()
    return thread


def test_db_a_writer_gets_the_lock_once_it_is_free(engines: tuple[Engine, Engine]) -> None:
    holder, waiter = engines
    taken = threading.Event()
    thread = hold_lock(holder, 0.3, taken)
    assert taken.wait(5)
    with waiter.begin() as connection:  # waits for the holder's commit instead of failing
        connection.execute(text("INSERT INTO controls (name, value, updated_at) VALUES ('x', 'y', 0)"))
        assert not thread.is_alive()
    thread.join()
    with waiter.connect() as connection:
        assert connection.execute(text("SELECT value FROM controls WHERE name = 'x'")).scalar_one() == "y"
        # the usual busy timeout is back for the statements inside transactions
        assert connection.execute(text("PRAGMA busy_timeout")).scalar_one() == 30000


def test_db_a_writer_gives_up_after_the_lock_wait(engines: tuple[Engine, Engine],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "LOCK_WAIT_SECONDS", 0.2)
    holder, waiter = engines
    taken = threading.Event()
    thread = hold_lock(holder, 1.0, taken)
    assert taken.wait(5)
    started = time.monotonic()
    with pytest.raises(OperationalError, match="locked"), waiter.begin():
        pass
    assert 0.2 <= time.monotonic() - started < 0.9  # gave up at its own deadline, before the holder finished
    thread.join()


def test_db_a_reading_transaction_does_not_wait_for_the_write_lock(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(db, "LOCK_WAIT_SECONDS", 0.05)  # a writer would give up at once
    holder, reader = engines
    taken = threading.Event()
    thread = hold_lock(holder, 0.5, taken)
    assert taken.wait(5)
    with db.reading(reader) as connection:
        assert connection.execute(text("SELECT count(*) FROM controls")).scalar_one() == 0
    with pytest.raises(OperationalError, match="locked"), reader.begin():
        pass
    thread.join()


def test_db_errors_never_carry_the_statements_parameters(database_url: str) -> None:
    engine = make_engine(make_settings(database_url))
    with pytest.raises(DBAPIError) as caught, engine.connect() as connection:  # no such table
        connection.execute(text("SELECT :value FROM no_such_table"), {"value": "cus_private_value"})
    assert "cus_private_value" not in str(caught.value)
    assert "cus_private_value" not in db.describe(caught.value)
