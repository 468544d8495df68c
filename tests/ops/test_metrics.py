"""`bridge status` and /metrics: the API versions of the last 30 days, on SQLite and PostgreSQL."""

from __future__ import annotations

from bridge.ops import metrics
from bridge.providers import Event
from bridge.store import store as st
from bridge.store.db import make_engine, migrate
from bridge.store.store import Incoming, Store
from tests.conftest import make_settings

NOW = 1_800_000_000.0
DAY = 86_400.0


def incoming(event_id: str, api_version: str | None, received_at: float, status: str = st.RECEIVED) -> Incoming:
    event = Event(provider="stripe", id=event_id, type="invoice.paid", created=received_at, livemode=True,
                  api_version=api_version, connect_account=None, customer_id="cus_1", payload={"id": event_id})
    return Incoming(event, received_at, status)


def store_with_versions(database_url: str) -> Store:
    settings = make_settings(database_url)
    migrate(settings)
    store = Store(make_engine(settings))
    store.ingest_many([
        incoming("evt_old", "2025-09-30.clover", NOW - 31 * DAY),  # outside the window
        incoming("evt_c1", "2025-09-30.clover", NOW - 10 * DAY, st.MAPPED),
        incoming("evt_e1", "2026-10-28.endive", NOW - 2 * DAY, st.MAPPED),
        incoming("evt_e2", "2026-10-28.endive", NOW - DAY, st.UNMAPPED),
        incoming("evt_f1", "2027-03-24.fig", NOW - 3600, st.MAPPED),
        incoming("evt_f2", "2027-03-24.fig", NOW - 60, st.HELD),
        incoming("evt_x", "2019-12-03", NOW - 5 * DAY, st.UNMAPPED),
    ])
    return store


def test_api_versions_lists_each_version_of_the_last_30_days(database_url: str) -> None:
    assert metrics.api_versions(store_with_versions(database_url).engine, NOW) == {"stripe": [
        {"api_version": "2027-03-24.fig", "events": 2, "statuses": {"held": 1, "mapped": 1},
         "last_seen": "2027-01-15T07:59:00Z", "support": "newer"},
        {"api_version": "2026-10-28.endive", "events": 2, "statuses": {"mapped": 1, "unmapped": 1},
         "last_seen": "2027-01-14T08:00:00Z", "support": "supported"},
        {"api_version": "2019-12-03", "events": 1, "statuses": {"unmapped": 1}, "last_seen": "2027-01-10T08:00:00Z",
         "support": "unsupported"},
        {"api_version": "2025-09-30.clover", "events": 1, "statuses": {"mapped": 1},
         "last_seen": "2027-01-05T08:00:00Z", "support": "supported"},
    ]}


def test_status_warns_of_newer_and_unsupported_versions_and_metrics_label_them(database_url: str) -> None:
    store = store_with_versions(database_url)
    snapshot = metrics.collect(make_settings(database_url), store, NOW)
    assert snapshot["warnings"] == [
        "stripe API version 2027-03-24.fig is newer than this bridge knows (2 event(s) in 30 days: 1 held, 1 mapped): "
        "its events are mapped as the newest known version when the fields the mappings read are there, else held; "
        "upgrade bridge, then `bridge replay --status held`",
        "stripe API version 2019-12-03 is not supported (1 event(s) in 30 days: 1 unmapped): its events are stored, "
        "not mapped"]
    assert snapshot["events"][st.HELD] == 1
    text = metrics.render(snapshot)
    assert 'bridge_api_version_events{provider="stripe",api_version="2027-03-24.fig",support="newer"} 2' in text
    assert 'bridge_api_version_events{provider="stripe",api_version="2026-10-28.endive",support="supported"} 2' in text
    assert ('bridge_api_version_held_events{provider="stripe",api_version="2027-03-24.fig",support="newer"} 1'
            in text)
    assert 'bridge_events{status="held"} 1' in text


def test_api_versions_empty_without_events(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url)
    migrate(settings)
    snapshot = metrics.collect(settings, Store(make_engine(settings)), NOW)
    assert (snapshot["api_versions"], snapshot["warnings"]) == ({}, [])
