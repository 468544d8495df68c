"""API keys: kept as a hash, shown once, revoked by name, paced per key — on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select, text

from bridge.store import keys
from bridge.store.db import make_engine, migrate
from bridge.store.keys import KeyProblem, Pace
from bridge.store.schema import api_keys
from tests.conftest import make_settings


@pytest.fixture
def engine(database_url: str) -> Engine:
    settings = make_settings(database_url)
    migrate(settings)
    return make_engine(settings)


def test_keys_only_a_hash_is_stored_and_the_key_authenticates(engine: Engine) -> None:
    key = keys.create(engine, "app", (), now=10.0)
    assert key.startswith("brk_") and len(key) > 50
    with engine.connect() as connection:
        dumped = " ".join(str(v) for row in connection.execute(select(api_keys)) for v in row)
    secret = key.split("_", 2)[2]
    assert secret not in dumped and key not in dumped
    found = keys.authenticate(engine, key)
    assert found is not None and found.name == "app" and found.scopes == ("track", "metadata")


@pytest.mark.parametrize("offered", [
    "", "brk_", "nope", "brk_000000000000_x", "Bearer x",
    "brk_zzzzzzzzzzzz_abcdefghijklmnopqrstuvwxyz",
])
def test_keys_malformed_or_unknown_keys_do_not_authenticate(engine: Engine, offered: str) -> None:
    keys.create(engine, "app", (), now=10.0)
    assert keys.authenticate(engine, offered) is None


def test_keys_right_id_wrong_secret_does_not_authenticate(engine: Engine) -> None:
    key = keys.create(engine, "app", (), now=10.0)
    assert keys.authenticate(engine, key[:-1] + ("A" if key[-1] != "A" else "B")) is None


def test_keys_revoked_key_is_refused_and_keeps_its_name(engine: Engine) -> None:
    key = keys.create(engine, "app", ("track",), now=10.0)
    keys.revoke(engine, "app", now=20.0)
    assert keys.authenticate(engine, key) is None
    [listed] = keys.list_keys(engine)
    assert listed.revoked_at == 20.0 and listed.scopes == ("track",)
    with pytest.raises(KeyProblem, match="exists already"):
        keys.create(engine, "app", (), now=30.0)


@pytest.mark.parametrize("name", ["", "App", "has space", "x" * 33, "-leading", "import:x", "webhooks", "app\n"])
def test_keys_names_that_cannot_be_a_source_are_refused(engine: Engine, name: str) -> None:
    with pytest.raises(KeyProblem):
        keys.create(engine, name, (), now=1.0)


def test_keys_unknown_scope_and_unknown_name_are_refused(engine: Engine) -> None:
    with pytest.raises(KeyProblem, match="scope"):
        keys.create(engine, "app", ("admin",), now=1.0)
    with pytest.raises(KeyProblem, match="no key named"):
        keys.revoke(engine, "ghost", now=1.0)


def test_keys_pace_allows_the_burst_then_the_rate(engine: Engine) -> None:
    keys.create(engine, "app", (), now=0.0)
    pace = Pace(rate=2.0, burst=3)
    with engine.begin() as connection:
        taken = [keys.take_slot(connection, "app", 100.0, pace) for _ in range(4)]
        assert taken == [True, True, True, False]
        assert keys.wait_for_slot(connection, "app", 100.0, pace) == pytest.approx(0.5)
        assert keys.take_slot(connection, "app", 100.5, pace)
        assert not keys.take_slot(connection, "app", 100.5, pace)
        keys.count(connection, "app", limited=2, accepted=5)
    [listed] = keys.list_keys(engine)
    assert (listed.requests, listed.limited, listed.accepted, listed.last_used_at) == (4, 2, 5, 100.5)


def test_keys_pace_refuses_a_key_revoked_meanwhile(engine: Engine) -> None:
    keys.create(engine, "app", (), now=0.0)
    keys.revoke(engine, "app", now=1.0)
    with engine.begin() as connection:
        assert not keys.take_slot(connection, "app", 2.0, Pace(10.0, 10))
        assert keys.wait_for_slot(connection, "app", 2.0, Pace(10.0, 10)) is None


def test_keys_pace_is_shared_by_two_engines(engine: Engine, database_url: str) -> None:
    """Two web processes (two engines) take from one pace."""
    keys.create(engine, "app", (), now=0.0)
    other = make_engine(make_settings(database_url))
    pace = Pace(rate=1.0, burst=2)
    results = []
    for current in (engine, other, engine):
        with current.begin() as connection:
            results.append(keys.take_slot(connection, "app", 50.0, pace))
    assert results == [True, True, False]
    with other.connect() as connection:
        assert connection.execute(text("select requests from api_keys")).scalar_one() == 2
