"""Which incoming values change the store: the newest per field, compared with what is stored."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from bridge.mapping.operations import MetadataUpdate
from bridge.pendo import changes, outbox
from bridge.store.db import make_engine, migrate
from tests.conftest import make_settings


def up(entity: str, values: dict[str, object], time: int, rank: int = 0) -> MetadataUpdate:
    return MetadataUpdate("account", entity, values, time, rank)


def test_changes_newest_value_per_field_later_wins_a_tie() -> None:
    found = changes.newest([up("a", {"x": 1, "y": 1}, 10), up("a", {"x": 2}, 10), up("a", {"y": 0}, 5)])
    assert {key: item.value for key, item in found.items()} == {("account", "a", "x"): 2, ("account", "a", "y"): 1}


@pytest.fixture
def engine(database_url: str) -> Engine:
    settings = make_settings(database_url)
    migrate(settings)
    return make_engine(settings)


def test_changes_only_new_and_different_newer_values_change(engine: Engine) -> None:
    with engine.begin() as connection:
        outbox.enqueue_fields(connection, changes.rows(changes.newest([up("a", {"x": 1, "y": "b"}, 100)]),
                                                       "e", 1.0, "import:accounts"))
    incoming = changes.newest([up("a", {"x": 1, "y": "c", "z": True}, 200), up("b", {"x": 1}, 200),
                               up("c", {"y": "old"}, 50)])
    incoming.update(changes.newest([up("a", {"y": "c"}, 200)]))
    with engine.connect() as connection:
        have = changes.stored(connection, {("account", "a"), ("account", "b"), ("account", "c")})
    found = changes.changes(incoming, have)
    assert set(found) == {("account", "a", "y"), ("account", "a", "z"), ("account", "b", "x"), ("account", "c", "y")}
    assert found[("account", "a", "y")] is not None and found[("account", "a", "y")].decoded == "b"
    older = changes.changes(changes.newest([up("a", {"y": "z"}, 99)]), have)
    assert older == {}  # the guard keeps the stored, newer value
