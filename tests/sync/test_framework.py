"""The sync framework with a provider it knows nothing about: a registered package and its list API, faked."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bridge.billing.model import Facts, Identity, Subscription
from bridge.errors import BridgeError
from bridge.mapping import load_mappings
from bridge.providers import registry
from bridge.store.db import make_engine, migrate
from bridge.store.schema import controls, events
from bridge.store.store import Store
from bridge.sync.initial import NEUTRAL_TYPE, Sync, cursor_control, last_run_control
from tests.conftest import make_settings

NOW = 1_767_300_000.0


class Pages:
    """A list API of `count` subscriptions, `size` a page, that can be told to fail before a page."""

    def __init__(self, count: int, size: int = 2):
        self.items = [{"id": f"sub_{n}", "customer_ref": f"c_{n}", "status": "active"} for n in range(count)]
        self.size, self.requests, self.asked, self.fail_before = size, 0, [], None

    def subscriptions(self, cursor: str | None = None) -> Iterator[tuple[list[Mapping[str, Any]], str | None]]:
        start = 0 if cursor is None else int(cursor) + 1
        self.asked.append(cursor)
        while start < len(self.items):
            if self.fail_before == start:
                raise BridgeError("the list API went away")
            self.requests += 1
            page = self.items[start:start + self.size]
            end = start + len(page) - 1
            yield page, str(end) if end + 1 < len(self.items) else None
            start = end + 1


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("bridge.providers.acme")
    module.NAME, module.VARIABLES = "acme", ("ACME_SECRET",)  # type: ignore[attr-defined]
    module.subscription = lambda raw: Subscription(  # type: ignore[attr-defined]
        "acme", raw["id"], raw["customer_ref"], raw["status"])
    module.facts = lambda event, enrichment: Facts(  # type: ignore[attr-defined]
        Identity(customer_id=event.payload["data"]["customer_ref"]), module.subscription(event.payload["data"]))
    monkeypatch.setitem(sys.modules, "bridge.providers.acme", module)
    monkeypatch.setattr(registry, "PACKAGES", (*registry.PACKAGES, "acme"))


def make(tmp_path: Path, pages: Pages) -> Sync:
    settings = make_settings(f"sqlite:///{tmp_path / 'bridge.db'}", providers={"acme": "secret"})
    migrate(settings)
    return Sync(settings, Store(make_engine(settings)), "acme", pages, load_mappings(settings.mappings_dir),
                lambda: NOW)


def stored(sync: Sync, table: Any = events) -> list[Any]:
    with sync.store.engine.connect() as connection:
        return list(connection.execute(select(table)).mappings())


@pytest.mark.usefixtures("acme")
def test_sync_stores_a_neutral_snapshot_for_a_source_without_its_own(tmp_path: Path) -> None:
    sync = make(tmp_path, Pages(5))
    report = sync.run()
    rows = stored(sync)
    assert [row["event_id"] for row in rows] == [f"sync_{report.run_id}_sub_{n}" for n in range(5)]
    assert {(row["provider"], row["type"], row["status"]) for row in rows} == {("acme", NEUTRAL_TYPE, "received")}
    assert rows[0]["customer_id"] == "c_0" and rows[0]["created"] == NOW
    payload = json.loads(rows[0]["payload"])
    assert payload["data"] == {"id": "sub_0", "customer_ref": "c_0", "status": "active"} and payload["bridge_sync"]
    assert (report.subscriptions, report.queued, report.requests) == (5, 5, 3)
    assert sync.store.control(cursor_control("acme")) is None
    assert json.loads(sync.store.control(last_run_control("acme")) or "{}")["provider"] == "acme"


@pytest.mark.usefixtures("acme")
def test_sync_resumes_after_the_last_stored_page(tmp_path: Path) -> None:
    pages = Pages(5)
    pages.fail_before = 4
    sync = make(tmp_path, pages)
    with pytest.raises(BridgeError):
        sync.run()
    assert len(stored(sync)) == 4 and json.loads(sync.store.control(cursor_control("acme")) or "")["after"] == "3"
    pages.fail_before = None
    report = sync.run()
    assert pages.asked[-1] == "3" and report.resumed_after == "3" and report.queued == 1
    assert len({row["event_id"].rsplit("_", 2)[0] for row in stored(sync)}) == 1  # one run id


@pytest.mark.usefixtures("acme")
def test_sync_dry_run_stores_nothing(tmp_path: Path) -> None:
    sync = make(tmp_path, Pages(3))
    report = sync.run(dry_run=True)
    assert report.subscriptions == 3 and stored(sync) == [] and stored(sync, controls) == []


@pytest.mark.usefixtures("acme")
def test_sync_stops_between_pages_and_keeps_its_cursor(tmp_path: Path) -> None:
    sync = make(tmp_path, Pages(6))
    sync.should_stop = lambda: True
    report = sync.run()
    assert report.stopped and report.subscriptions == 2
    assert json.loads(sync.store.control(cursor_control("acme")) or "")["after"] == "1"
