"""`bridge sync` of Paddle, Chargebee and Polar in-process: each package's own list client (`source(config)`)
against its API mocked with `responses` (answered by the provider's fake, two subscriptions a page), the real sync
framework, the shipped mappings and SQLite.

The end-to-end run of the same listings through the command, the worker and a fake Pendo is
tests/e2e/test_provider_syncs.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import responses
from sqlalchemy import select

from bridge.mapping import load_mappings
from bridge.providers import registry
from bridge.store.db import make_engine, migrate
from bridge.store.schema import controls, events
from bridge.store.store import Store
from bridge.sync.initial import NEUTRAL_TYPE, Sync, cursor_control
from tests.conftest import make_settings
from tests.fakes.provider_api import FakeProviderApi
from tests.providers.chargebee.fake_chargebee import FakeChargebee
from tests.providers.deliveries import SENDERS
from tests.providers.listings import CANCELED, COUNT, account, chargebee_entry, paddle_item, polar_item
from tests.providers.paddle.fake_paddle import FakePaddle
from tests.providers.polar.fake_polar import FakePolar

KEY = "key-sync"
NOW = 1_767_300_000.0
PAGE = 2

# The provider's fake (two a page), its API variables, and each listed subscription's customer id.
CASES: dict[str, tuple[Callable[[], FakeProviderApi], dict[str, str], Callable[[int], str]]] = {
    "paddle": (lambda: FakePaddle(KEY, [], [paddle_item(n) for n in range(COUNT)], max_per_page=PAGE),
               {"PADDLE_API_KEY": KEY}, lambda n: str(paddle_item(n)["customer_id"])),
    "chargebee": (lambda: FakeChargebee(KEY, [chargebee_entry(n) for n in range(COUNT)], {}, max_limit=PAGE),
                  {"CHARGEBEE_API_KEY": KEY, "CHARGEBEE_SITE": "acme"},
                  lambda n: str(chargebee_entry(n)["customer"]["id"])),
    "polar": (lambda: FakePolar(KEY, [polar_item(n) for n in range(COUNT)], max_limit=PAGE),
              {"POLAR_API_KEY": KEY}, lambda n: str(polar_item(n)["customer_id"])),
}


@pytest.fixture(params=sorted(CASES))
def sync(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sync]:
    name = request.param
    fake_of, variables, _ = CASES[name]
    package = registry.package(name)
    config = package.configure({**SENDERS[name].env, **variables})
    settings = make_settings(f"sqlite:///{tmp_path / 'bridge.db'}", providers={name: config})
    migrate(settings)
    source = package.source(config)
    source.sleep = lambda seconds: None  # the request budget's pauses
    with fake_of() as fake, responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        def answer(asked: Any) -> tuple[int, dict[str, str], str]:
            parts = urlsplit(asked.url)
            status, body, headers = fake.serve(f"{parts.path}?{parts.query}",
                                               {key.lower(): value for key, value in asked.headers.items()})
            return status, {"Content-Type": "application/json", **headers}, json.dumps(body)

        mocked.add_callback(responses.GET, re.compile(r"https://[^/]+/.*"), callback=answer)
        yield Sync(settings, Store(make_engine(settings)), name, source, load_mappings(settings.mappings_dir),
                   lambda: NOW)


def stored(sync: Sync, table: Any = events) -> list[Any]:
    with sync.store.engine.connect() as connection:
        return list(connection.execute(select(table)).mappings())


def test_a_dry_run_finds_every_account_s_billing_fields_and_stores_nothing(sync: Sync) -> None:
    report = sync.run(dry_run=True)
    assert (report.subscriptions, len(report.accounts), report.unresolved, report.requests) == (COUNT, COUNT, 0, 3)
    for n in range(COUNT):
        fields = {name: after for (kind, entity, name), (_, after) in report.changes.items()
                  if (kind, entity) == ("account", account(n))}
        expected = ("canceled", 0) if n == CANCELED else ("active", 147)
        assert (fields["billing_status"], fields["mrr"], fields["billing_currency"], fields["billing_interval"]) == (
            *expected, "USD", "month"), fields
    assert stored(sync) == [] and stored(sync, controls) == []


def test_a_sync_stores_one_snapshot_per_subscription_for_its_customer(sync: Sync) -> None:
    report = sync.run()
    assert (report.subscriptions, report.queued, report.requests) == (COUNT, COUNT, 3)
    rows = stored(sync)
    customer_of = CASES[sync.provider][2]
    assert sorted(row["customer_id"] for row in rows) == sorted(customer_of(n) for n in range(COUNT))
    assert {(row["provider"], row["type"], row["status"]) for row in rows} == {
        (sync.provider, NEUTRAL_TYPE, "received")}
    assert all(json.loads(row["payload"])["bridge_sync"] is True for row in rows)
    assert sync.store.control(cursor_control(sync.provider)) is None
