"""The event list's filters and keyset pages, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from sqlalchemy import bindparam, update

from bridge.store.db import make_engine, migrate
from bridge.store.schema import events
from bridge.store.store import Incoming, Store
from bridge.web.admin.events import Cursor, EventFilter, page
from tests.conftest import make_settings
from tests.web.admin.conftest import START, stripe_event

TYPES = ("invoice.paid", "customer.subscription.updated", "customer.updated")
STATUSES = ("mapped", "unresolved", "failed")


@pytest.fixture(scope="module")
def rows() -> list[dict[str, object]]:
    """130 events; many share a receipt time, so the pages must break ties by id."""
    rng = random.Random(3)
    return [{"id": f"evt_{i:04d}", "type": rng.choice(TYPES), "status": rng.choice(STATUSES),
             "customer": f"cus_{i % 7}", "account": f"acct-{i % 5}", "provider": "stripe" if i % 4 else "other",
             "received": START + (i // 3)} for i in range(130)]


@pytest.fixture
def store(database_url: str, rows: list[dict[str, object]]) -> Store:
    settings = make_settings(database_url)
    migrate(settings)
    store = Store(make_engine(settings))
    incoming = []
    for row in rows:
        event = replace(stripe_event(str(row["id"]), str(row["type"]), customer=str(row["customer"])),
                        provider=str(row["provider"]))
        incoming.append(Incoming(event, float(row["received"])))  # type: ignore[arg-type]
    store.ingest_many(incoming)  # one transaction for all
    with store.transaction() as connection:
        connection.execute(update(events).where(events.c.event_id == bindparam("b_id")),
                           [{"b_id": r["id"], "status": r["status"], "account_id": r["account"]} for r in rows])
    return store


def walk(store: Store, where: EventFilter, size: int) -> list[str]:
    """Every row through the Older links, checking each page's Newer link leads back to the page before."""
    seen: list[str] = []
    current = page(store.engine, where, size=size)
    assert current.newer is None
    while True:
        seen += [row["event_id"] for row in current.rows]
        if current.older is None:
            return seen
        following = page(store.engine, where, older_than=current.older, size=size)
        assert following.newer is not None
        back = page(store.engine, where, newer_than=following.newer, size=size)
        assert [r["event_id"] for r in back.rows] == [r["event_id"] for r in current.rows]
        current = following


def expected(rows: list[dict[str, object]], **match: object) -> list[str]:
    chosen = [r for r in rows if all(r[k] == v for k, v in match.items())]
    return [str(r["id"]) for r in sorted(chosen, key=lambda r: (r["received"], r["id"]), reverse=True)]


def test_events_pages_cover_every_row_once_newest_first(store: Store, rows: list[dict[str, object]]) -> None:
    assert walk(store, EventFilter(), size=20) == expected(rows)


@pytest.mark.parametrize("match", [
    {"status": "failed"}, {"type": "invoice.paid"}, {"customer": "cus_3"}, {"account": "acct-2"},
    {"provider": "other"}, {"status": "mapped", "customer": "cus_1"},
    {"status": "unresolved", "type": "customer.updated", "provider": "stripe"},
])
def test_events_filters(store: Store, rows: list[dict[str, object]], match: dict[str, str]) -> None:
    assert walk(store, EventFilter(**match), size=7) == expected(rows, **match)


def test_events_time_window_includes_since_and_excludes_until(store: Store, rows: list[dict[str, object]]) -> None:
    found = walk(store, EventFilter(since=START + 10, until=START + 20), size=8)
    assert found == [str(r["id"]) for r in sorted(rows, key=lambda r: (r["received"], r["id"]), reverse=True)
                     if START + 10 <= float(r["received"]) < START + 20]  # type: ignore[arg-type]
    assert len(found) == 30


def test_events_no_match_has_no_pages(store: Store) -> None:
    empty = page(store.engine, EventFilter(customer="cus_nobody"))
    assert (list(empty.rows), empty.newer, empty.older) == ([], None, None)


@pytest.mark.parametrize("text", [None, "", "junk", "1.5", "x_1", "1.5_y"])
def test_events_cursor_from_a_bad_link_is_none(text: str | None) -> None:
    assert Cursor.decode(text) is None


def test_events_cursor_round_trips() -> None:
    cursor = Cursor(1_764_460_800.123456, 42)
    assert Cursor.decode(cursor.encode()) == cursor
