"""Migration 0008 on a database holding 0007's rows: every row is kept as the default source's, and the provider
columns take keys longer than a provider name (a named source's connected account)."""

from __future__ import annotations

from sqlalchemy import inspect, select, text

from bridge.providers import Event
from bridge.store import links
from bridge.store.db import make_engine, migrate
from bridge.store.schema import customer_links, events, provider_objects, subscriptions
from bridge.store.store import Store
from tests.conftest import make_settings
from tests.store.test_provider_migration import _to

LONG = "stripe/a-long-source-nam:acct_1AbCdEfGhIjKlMnOpQrStUv"  # 53 characters: more than 0007's 32
ROWS = (
    "INSERT INTO subscriptions (provider, subscription_id, account_id, customer_id, status, snapshot, source_time, "
    "rank, mrr, event_id, updated_at) VALUES ('stripe', 'sub_1', 'acme', 'cus_1', 'active', '{}', 1, 0, 49.5, "
    "'evt_1', 5.0)",
    "INSERT INTO customer_links (provider, customer_id, account_id, source, updated_at) "
    "VALUES ('stripe', 'cus_1', 'acme', 'import', 6.0)",
    "INSERT INTO provider_objects (provider, object_id, payload, fetched_at) VALUES ('stripe', 'cus_1', '{}', 7.0)",
)


def test_source_migration_keeps_every_row_and_holds_long_keys(database_url: str) -> None:
    settings = make_settings(database_url)
    engine = make_engine(settings)
    _to(engine, "0007")
    store = Store(engine)
    store.ingest(Event("stripe", "evt_1", "invoice.paid", 1.0, True, None, None, "cus_1", {}), 2.0)
    with engine.begin() as connection:
        for statement in ROWS:
            connection.execute(text(statement))
    migrate(settings)
    with engine.connect() as connection:
        for table, column in ((events, events.c.event_id), (subscriptions, subscriptions.c.subscription_id),
                              (customer_links, customer_links.c.customer_id),
                              (provider_objects, provider_objects.c.object_id)):
            assert connection.execute(select(table.c.provider, column)).all() in (
                [("stripe", "evt_1")], [("stripe", "sub_1")], [("stripe", "cus_1")]), table.name
    if not database_url.startswith("sqlite"):  # SQLite keeps no length
        for table in ("events", "subscriptions", "customer_links", "provider_objects"):
            [provider] = [c for c in inspect(engine).get_columns(table) if c["name"] == "provider"]
            assert provider["type"].length == 64, table
    assert store.ingest(Event(LONG, "evt_1", "invoice.paid", 1.0, True, None, None, "cus_1", {}), 3.0) is False
    store.cache_object(LONG, "cus_1", {"id": "cus_1"}, 4.0)
    with engine.begin() as connection:
        links.save(connection, LONG, "cus_1", "globex", "import", 5.0)
        assert links.linked_account(connection, LONG, "cus_1") == "globex"
        assert links.linked_account(connection, "stripe", "cus_1") == "acme"
    assert store.cached_object(LONG, "cus_1") == ({"id": "cus_1"}, 4.0)
    engine.dispose()
