"""Rows from the API and imports carry their source into delivery's alerts, `bridge status` and `/metrics`."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest

from bridge.imports import runs
from bridge.mapping.operations import MetadataUpdate
from bridge.ops import metrics
from bridge.pendo import changes
from bridge.pendo import outbox as ob
from bridge.store import keys
from bridge.store.store import Store
from tests.conftest import Clock
from tests.fakes.pendo import FakePendo
from tests.pendo.test_delivery import build


def test_sources_alerts_name_the_key_a_refused_track_event_came_from(
        database_url: str, pendo: FakePendo, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    delivery = build(database_url, pendo, clock)
    with delivery.store.transaction() as connection:
        ob.enqueue_tracks(connection, [ob.track_row("app:m1", "api", {"type": "track", "event": "E"},
                                                    int(clock() * 1000), None, clock(), source="app")])
    pendo.fail_next(1, status=400, path_prefix="/data/track")
    with caplog.at_level(logging.ERROR, logger="bridge.alerts"):
        assert delivery.send_tracks() == 1
    [record] = [r for r in caplog.records if getattr(r, "alert", None) == "permanent_failure"]
    assert (record.source, record.event_id) == ("app", "app:m1")  # type: ignore[attr-defined]
    assert delivery.outbox.recent_failures(5)[0]["source"] == "app"


def test_sources_status_and_metrics_show_each_source_and_each_key(database_url: str, pendo: FakePendo,
                                                                 clock: Clock) -> None:
    delivery = build(database_url, pendo, clock)
    store: Store = delivery.store
    keys.create(store.engine, "app", (), clock())
    with store.transaction() as connection:
        ob.enqueue_metadata(connection, MetadataUpdate("account", "a", {"x": 1}, 1), "evt_1", "v1", clock())
        ob.enqueue_fields(connection, changes.rows(changes.newest([MetadataUpdate("account", "b", {"y": 2}, 1)]),
                                                   "app:r1", clock(), "app"))
        ob.enqueue_fields(connection, changes.rows(changes.newest([MetadataUpdate("visitor", "u", {"z": 3}, 1)]),
                                                   "import:people:1", clock(), "import:people"))
        keys.count(connection, "app", accepted=1)
    store.set_control(runs.LAST_RUN.format(kind="visitor", label="people"), json.dumps({"rows": 1}), clock())
    delivery.send_metadata()
    report = metrics.collect(delivery.settings, store, clock())
    assert report["sources"] == {"webhooks": {"metadata": {"delivered": 1}, "track": {}},
                                 "app": {"metadata": {"delivered": 1}, "track": {}},
                                 "import:people": {"metadata": {"delivered": 1}, "track": {}}}
    assert report["api_keys"]["app"]["accepted"] == 1
    assert report["imports"]["import:people"] == {"kind": "visitor", "last_run": {"rows": 1},
                                                  "unfinished_after_row": None}
    text = metrics.render(report)
    assert 'bridge_source_rows{source="app",outbox="metadata",state="delivered"} 1' in text
    assert 'bridge_key_items_total{key="app",outcome="accepted"} 1' in text


def test_sources_api_track_events_wait_while_the_track_secret_is_not_set(database_url: str, pendo: FakePendo,
                                                                         clock: Clock) -> None:
    delivery = build(database_url, pendo, clock)
    delivery.settings = replace(delivery.settings, pendo_track_secret=None)
    with delivery.store.transaction() as connection:
        ob.enqueue_tracks(connection, [ob.track_row("app:m1", "api", {"type": "track", "event": "E"},
                                                    int(clock() * 1000), None, clock(), source="app")])
    assert delivery.send_tracks() == 0
    assert pendo.track_events() == [] and delivery.outbox.counts()["track"] == {"pending": 1}
