"""Migration 0005 (the admin console's indexes) on a database where an operator built some of them already."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from bridge.store.db import MIGRATIONS, make_engine, migrate
from tests.conftest import make_settings


def test_admin_migration_skips_indexes_built_beforehand(database_url: str) -> None:
    settings = make_settings(database_url)
    engine = make_engine(settings)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
    with engine.begin() as connection:  # as `CREATE INDEX CONCURRENTLY` would leave it
        connection.execute(text("CREATE INDEX ix_events_status_received ON events (status, received_at, id)"))
    migrate(settings)
    migrate(settings)
    names = {index["name"] for index in inspect(engine).get_indexes("events")}
    assert {"ix_events_status_received", "ix_events_customer_received", "ix_events_versions"} <= names
    assert "ix_events_customer" not in names
    engine.dispose()
