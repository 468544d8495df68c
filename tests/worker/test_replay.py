"""`bridge replay` repairs an account after a mapping fix: real SQLite, the worker's mapper, a fake Pendo."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bridge.mapping import MappingSet, load_mappings
from bridge.pendo.client import PendoClient
from bridge.pendo.delivery import Delivery
from bridge.pendo.outbox import Outbox
from bridge.providers import Event
from bridge.providers.stripe import versions as stripe_versions
from bridge.providers.stripe.enrichment import Enricher, RateBudget
from bridge.providers.stripe.webhook import StripeProvider
from bridge.settings import Settings
from bridge.store.db import make_engine, migrate
from bridge.store.schema import events, field_values, track_events
from bridge.store.store import Store
from bridge.worker.mapper import Mapper
from bridge.worker.replay import ReplayFilter, replay
from tests.conftest import ROOT, SECRET, make_settings
from tests.fakes.pendo import FakePendo

CREATED = 1_735_700_000  # subscription_created_2024-06-20.json
DAY = 86_400.0
OVERLAY = """\
lookups:
  plans: {business_yearly: Business}
rules:
  - name: plan-name
    provider: stripe
    events: ["customer.subscription.*"]
    account: {plan_name: "lookup('plans', stripe_plan(object), 'Unknown')"}
"""


class Clock:
    def __init__(self) -> None:
        self.now = CREATED + 60.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class World:
    """One deployment: database, mappings folder with an overlay, worker parts, fake Pendo."""

    def __init__(self, tmp_path: Path, pendo: FakePendo):
        self.overlay = tmp_path / "ours"
        self.overlay.mkdir()
        self.write_overlay(OVERLAY)
        self.clock = Clock()
        self.pendo = pendo
        self.settings: Settings = make_settings(
            f"sqlite:///{tmp_path / 'bridge.db'}", pendo_integration_key=pendo.integration_key,
            pendo_track_secret=pendo.track_secret, pendo_api_base=pendo.url, pendo_data_base=pendo.url,
            metadata_linger_seconds=0.0, mappings_overlay_dir=self.overlay)
        migrate(self.settings)
        self.store = Store(make_engine(self.settings))

    def write_overlay(self, text: str) -> None:
        (self.overlay / "ours.yaml").write_text(textwrap.dedent(text))

    def mappings(self) -> MappingSet:
        return load_mappings(self.settings.mappings_dir, self.overlay)

    def receive(self, name: str) -> None:
        body = json.loads((ROOT / "mappings" / "tests" / "events" / name).read_text())
        body["data"]["object"]["metadata"] = {"pendo_account_id": "acme-corp", "pendo_visitor_id": "user-42"}
        self.store.ingest(StripeProvider((SECRET,)).parse(json.dumps(body).encode()), self.clock())

    def map_and_deliver(self) -> None:
        enricher = Enricher(self.store, None, RateBudget(1000.0, sleep=lambda _: None), self.clock)
        Mapper(self.settings, self.store, self.mappings(), enricher, "w1", self.clock).run_batch()
        delivery = Delivery(self.settings, self.store, Outbox(self.store.engine),
                            PendoClient(self.settings, timeout=5), "w1", self.clock, sleep=self.clock.advance)
        delivery.send_metadata()

    def rows(self, table: Any) -> list[Any]:
        with self.store.engine.connect() as connection:
            return list(connection.execute(select(table)).mappings().all())


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with FakePendo() as pendo:  # every custom field exists
        yield World(tmp_path, pendo)


def test_replay_repairs_an_account_after_a_mapping_fix(world: World) -> None:
    world.receive("subscription_created_2024-06-20.json")
    world.map_and_deliver()
    assert world.pendo.account_values("acme-corp")["plan_name"] == "Unknown"  # the mapping's bug
    world.write_overlay(OVERLAY.replace("{business_yearly: Business}", "{business_yearly: Business, pro_monthly: Pro}"))
    fixed = world.mappings()
    world.clock.advance(DAY)

    preview = replay(world.store, fixed, world.settings, ReplayFilter(), world.clock(), dry_run=True)
    assert ("account", "acme-corp", "plan_name") in [key for key, _, _ in preview.changes]
    assert 'account acme-corp: plan_name: "Unknown" -> "Pro"' in preview.render()
    assert preview.unchanged >= 8
    assert {row["mapping_version"] for row in world.rows(field_values)} != {fixed.version}  # nothing written

    report = replay(world.store, fixed, world.settings, ReplayFilter(), world.clock())
    assert len(report.changes) == 1
    rows = {row["field"]: row for row in world.rows(field_values)}
    assert rows["plan_name"]["source_time"] == int(world.clock() * 1000)  # a fresh guard time
    assert {row["mapping_version"] for row in rows.values()} == {fixed.version}
    sent_before = len(world.pendo.metadata_rows("account"))
    world.map_and_deliver()
    assert world.pendo.account_values("acme-corp")["plan_name"] == "Pro"
    (resent,) = world.pendo.metadata_rows("account")[sent_before:]
    assert resent["values"] == {"plan_name": "Pro"}  # unchanged values are not sent again


def test_replay_filters_select_events(world: World) -> None:
    world.receive("subscription_created_2024-06-20.json")
    world.receive("invoice_paid_2024-06-20.json")
    world.map_and_deliver()
    mappings = world.mappings()
    by_type = replay(world.store, mappings, world.settings, ReplayFilter(type_glob="invoice.*"), world.clock(),
                     dry_run=True)
    assert by_type.selected == 1
    assert replay(world.store, mappings, world.settings, ReplayFilter(event_ids=("evt_nope",)), world.clock(),
                  dry_run=True).selected == 0
    assert replay(world.store, mappings, world.settings, ReplayFilter(since=CREATED + 3600), world.clock(),
                  dry_run=True).selected == 1
    assert replay(world.store, mappings, world.settings, ReplayFilter(failed_only=True), world.clock(),
                  dry_run=True).selected == 0
    with world.store.transaction() as connection:  # the invoice's value failed in Pendo
        connection.execute(update(field_values).where(field_values.c.field == "last_payment_amount")
                           .values(state="failed"))
    assert replay(world.store, mappings, world.settings, ReplayFilter(failed_only=True), world.clock(),
                  dry_run=True).selected == 1
    assert replay(world.store, mappings, world.settings, ReplayFilter(failed_only=True, type_glob="customer.*"),
                  world.clock(), dry_run=True).selected == 0


def test_replay_tracks_only_when_asked_and_never_into_the_7_day_void(world: World) -> None:
    world.receive("invoice_paid_2024-06-20.json")
    world.map_and_deliver()
    world.clock.advance(30 * DAY)
    mappings = world.mappings()
    before = [(row["state"], row["timestamp_ms"]) for row in world.rows(track_events)]
    report = replay(world.store, mappings, world.settings, ReplayFilter(), world.clock())
    assert report.tracks == [] and [(r["state"], r["timestamp_ms"]) for r in world.rows(track_events)] == before
    report = replay(world.store, mappings, world.settings, ReplayFilter(), world.clock(), tracks=True)
    assert "older than Pendo's 7-day window, not re-sent (use --retimestamp)" in report.tracks[0]
    replay(world.store, mappings, world.settings, ReplayFilter(), world.clock(), tracks=True, retimestamp=True)
    (row,) = world.rows(track_events)
    payload = json.loads(row["payload"])
    assert (row["state"], row["timestamp_ms"], row["mapping_version"]) == (
        "pending", int(world.clock() * 1000), mappings.version)
    assert payload["properties"]["original_timestamp"] == 1_735_703_700_000
    assert payload["timestamp"] == int(world.clock() * 1000)


def receive_fig(world: World) -> str:
    """A subscription of a release after endive that moved the item periods: held when mapped."""
    body = json.loads((ROOT / "mappings" / "tests" / "events" / "subscription_created_endive.json").read_text())
    body.update(api_version="2027-03-24.fig", created=int(world.clock()) - 60)
    body["data"]["object"]["metadata"] = {"pendo_account_id": "acme-corp", "pendo_visitor_id": "user-42"}
    for item in body["data"]["object"]["items"]["data"]:
        item["billing_period"] = {"start": item.pop("current_period_start"), "end": item.pop("current_period_end")}
    world.store.ingest(StripeProvider((SECRET,)).parse(json.dumps(body).encode()), world.clock())
    return str(body["id"])


def upgrade_to_fig(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a bridge release that knows fig would do: the release in the table, its periods moved back."""
    normalise = stripe_versions.normalise

    def fig_normalise(payload: Any) -> dict[str, Any]:
        result = normalise(payload)
        for item in result["data"]["object"].get("items", {}).get("data", []):
            period = item.pop("billing_period", None) or {}
            item.update(current_period_start=period.get("start"), current_period_end=period.get("end"))
        return normalise(result)

    monkeypatch.setitem(stripe_versions.RELEASES, "fig", "2027-03-24")
    monkeypatch.setattr(stripe_versions, "normalise", fig_normalise)


def status_of(world: World, event_id: str) -> str:
    return str(next(row["status"] for row in world.rows(events) if row["event_id"] == event_id))


def test_replay_hands_held_events_back_to_the_worker_once_they_map(world: World,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    held = receive_fig(world)
    world.map_and_deliver()
    assert status_of(world, held) == "held" and world.pendo.account_values("acme-corp") == {}
    mappings = world.mappings()
    before = replay(world.store, mappings, world.settings, ReplayFilter(status="held"), world.clock())
    assert (before.selected, before.requeued, before.still_held) == (1, 0, 1)
    assert "1 held event(s) stay held" in before.render() and status_of(world, held) == "held"

    upgrade_to_fig(monkeypatch)
    preview = replay(world.store, mappings, world.settings, ReplayFilter(status="held"), world.clock(), dry_run=True)
    assert "1 held event(s) would be handed back to the worker" in preview.render()
    assert status_of(world, held) == "held"
    report = replay(world.store, mappings, world.settings, ReplayFilter(status="held"), world.clock())
    assert (report.requeued, report.still_held, report.changes) == (1, 0, [])
    assert status_of(world, held) == "received"
    world.map_and_deliver()
    assert status_of(world, held) == "mapped"
    values = world.pendo.account_values("acme-corp")
    assert (values["billing_plan"], values["current_period_end"]) == ("Team quarterly", "2025-04-02T02:53:20.000Z")
    [track] = [json.loads(row["payload"]) for row in world.rows(track_events)]
    assert track["event"] == "Subscription Created"


def test_replay_status_filter_selects_only_that_status(world: World) -> None:
    world.receive("subscription_created_2024-06-20.json")
    receive_fig(world)
    world.map_and_deliver()
    mappings = world.mappings()
    assert replay(world.store, mappings, world.settings, ReplayFilter(status="mapped"), world.clock(),
                  dry_run=True).selected == 1
    everything = replay(world.store, mappings, world.settings, ReplayFilter(), world.clock(), dry_run=True)
    assert (everything.selected, everything.still_held) == (2, 1)


def test_replay_history_is_the_customers_of_the_same_provider(world: World) -> None:
    world.receive("subscription_created_2024-06-20.json")
    [stored] = world.rows(events)
    other = Event("other", "o_1", "thing.happened", CREATED, None, None, None, stored["customer_id"], {"id": "o_1"})
    world.store.ingest(other, world.clock())
    report = replay(world.store, world.mappings(), world.settings, ReplayFilter(event_ids=(stored["event_id"],)),
                    world.clock(), dry_run=True)
    assert (report.selected, report.history) == (1, 1)  # the other provider's customer of that id is not theirs
