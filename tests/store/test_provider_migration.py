"""Migration 0007 on a database holding 0006's rows: every row is kept under `stripe`, keyed (provider, id)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect, select, text

from bridge.store import links
from bridge.store.db import MIGRATIONS, make_engine, migrate
from bridge.store.schema import customer_links, provider_objects, subscriptions
from bridge.store.store import Store
from tests.conftest import make_settings

SUBSCRIPTION = ("INSERT INTO subscriptions (subscription_id, account_id, customer_id, status, snapshot, source_time, "
                "rank, mrr, event_id, updated_at) VALUES ('sub_1', 'acme', 'cus_1', 'active', '{\"id\": \"sub_1\"}', "
                "1700000000000, 3, 49.5, 'evt_1', 5.0)")
LINK = ("INSERT INTO customer_links (customer_id, account_id, source, updated_at) "
        "VALUES ('cus_1', 'acme', 'import', 6.0)")
OBJECT = "INSERT INTO stripe_objects (object_id, payload, fetched_at) VALUES ('cus_1', '{\"id\": \"cus_1\"}', 7.0)"


def _to(engine: Engine, revision: str, downgrade: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if downgrade else command.upgrade)(config, revision)


def test_provider_migration_keeps_every_row_as_stripe_and_keys_by_provider(database_url: str) -> None:
    settings = make_settings(database_url)
    engine = make_engine(settings)
    _to(engine, "0006")
    with engine.begin() as connection:
        for statement in (SUBSCRIPTION, LINK, OBJECT):
            connection.execute(text(statement))
    migrate(settings)
    with engine.connect() as connection:
        [sub] = connection.execute(select(subscriptions)).mappings().all()
        [link] = connection.execute(select(customer_links)).mappings().all()
        [cached] = connection.execute(select(provider_objects)).mappings().all()
    assert dict(sub) == {"provider": "stripe", "subscription_id": "sub_1", "account_id": "acme", "customer_id": "cus_1",
                         "status": "active", "snapshot": '{"id": "sub_1"}', "source_time": 1_700_000_000_000,
                         "rank": 3, "mrr": 49.5, "event_id": "evt_1", "updated_at": 5.0}
    assert dict(link) == {"provider": "stripe", "customer_id": "cus_1", "account_id": "acme", "source": "import",
                          "updated_at": 6.0}
    assert dict(cached) == {"provider": "stripe", "object_id": "cus_1", "payload": '{"id": "cus_1"}', "fetched_at": 7.0}
    schema = inspect(engine)
    assert "stripe_objects" not in schema.get_table_names()
    for table, key in (("subscriptions", "subscription_id"), ("customer_links", "customer_id"),
                       ("provider_objects", "object_id")):
        assert schema.get_pk_constraint(table)["constrained_columns"] == ["provider", key]
    assert "ix_subscriptions_account" in {index["name"] for index in schema.get_indexes("subscriptions")}
    engine.dispose()


def test_provider_migration_lets_two_providers_share_an_id(database_url: str) -> None:
    settings = make_settings(database_url)
    migrate(settings)
    engine = make_engine(settings)
    store = Store(engine)
    store.cache_object("stripe", "cus_1", {"id": "cus_1", "from": "stripe"}, 1.0)
    store.cache_object("other", "cus_1", {"id": "cus_1", "from": "other"}, 2.0)
    with engine.begin() as connection:
        links.save(connection, "stripe", "cus_1", "acme", "import", 1.0)
        links.save(connection, "other", "cus_1", "globex", "import", 1.0)
        assert links.linked_account(connection, "stripe", "cus_1") == "acme"
        assert links.linked_account(connection, "other", "cus_1") == "globex"
        assert links.linked_account(connection, "third", "cus_1") is None
    assert store.cached_object("stripe", "cus_1") == ({"id": "cus_1", "from": "stripe"}, 1.0)
    assert store.cached_object("other", "cus_1") == ({"id": "cus_1", "from": "other"}, 2.0)
    engine.dispose()


def test_provider_migration_downgrades_to_stripe_rows_only(database_url: str) -> None:
    settings = make_settings(database_url)
    migrate(settings)
    engine = make_engine(settings)
    with engine.begin() as connection:
        links.save(connection, "stripe", "cus_1", "acme", "import", 1.0)
        links.save(connection, "other", "cus_2", "globex", "import", 1.0)
    _to(engine, "0006", downgrade=True)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT customer_id, account_id FROM customer_links")).all()
    assert [tuple(row) for row in rows] == [("cus_1", "acme")]
    migrate(settings)  # and up again
    engine.dispose()
