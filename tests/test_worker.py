"""The worker loop: one bad row or one failing step never stops the rest."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bridge import outbox as ob
from bridge import store as st
from bridge.db import migrate
from bridge.providers import Event
from bridge.purge import purge_customer
from bridge.settings import Settings
from bridge.worker import Worker, build_worker
from tests.conftest import Clock, make_settings
from tests.fakes.pendo import FakePendo

DAY = 86400


def settings_for(url: str, pendo: FakePendo, **overrides: Any) -> Settings:
    settings: Settings = make_settings(url, pendo_integration_key="key", pendo_track_secret="track",
                                       pendo_api_base=pendo.url, pendo_data_base=pendo.url,
                                       metadata_linger_seconds=0.0, **overrides)
    migrate(settings)
    return settings


def worker_for(url: str, pendo: FakePendo, clock: Clock, **overrides: Any) -> Worker:
    worker = build_worker(settings_for(url, pendo, **overrides), clock=clock)
    worker.delivery.sleep = clock.advance
    return worker


def event(event_id: str, customer: str, created: float) -> Event:
    body = {"id": event_id, "object": "event", "type": "customer.subscription.updated", "created": created,
            "data": {"object": {"id": "sub_1", "object": "subscription", "customer": customer}}}
    return Event(provider="stripe", id=event_id, type=body["type"], created=created, livemode=True,
                 api_version="2025-03-31.basil", connect_account=None, customer_id=customer, payload=body)


def track_of(worker: Worker, event_id: str, customer: str, clock: Clock) -> None:
    """A stored event of `customer` and the track event it produced, waiting to be sent."""
    worker.store.ingest(event(event_id, customer, clock.now), clock.now, status=st.MAPPED)
    payload = {"type": "track", "event": f"Seen {customer}", "visitorId": "v", "accountId": "a",
               "timestamp": int(clock.now * 1000), "properties": {}, "context": {}}
    with worker.store.transaction() as connection:
        ob.enqueue_track(connection, event_id, "r", payload, int(clock.now * 1000), "v1", clock.now)


def test_worker_sends_other_customers_track_events_after_a_purge(database_url: str, pendo: FakePendo) -> None:
    clock = Clock()
    clock.now = 1_760_000_000.0
    worker = worker_for(database_url, pendo, clock)
    track_of(worker, "evt_jane", "cus_jane", clock)
    track_of(worker, "evt_max", "cus_max", clock)
    purge_customer(worker.store.engine, "cus_jane")
    worker.start_up()
    worker.run_once()
    worker.delivery.close()
    assert [t["event"] for t in pendo.track_events()] == ["Seen cus_max"]
    assert worker.delivery.outbox.counts()["track"] == {ob.DELIVERED: 1, ob.PURGED: 1}


def test_worker_survives_a_step_that_fails_and_runs_the_others(sqlite_url: str, pendo: FakePendo,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    clock.now = 1_760_000_000.0
    worker = worker_for(sqlite_url, pendo, clock)
    track_of(worker, "evt_max", "cus_max", clock)

    def broken() -> int:
        raise RuntimeError("a bug in the metadata step")
    monkeypatch.setattr(worker.delivery, "send_metadata", broken)
    with caplog.at_level(logging.ERROR, logger="bridge.worker"):
        worker.run_once()
    worker.delivery.close()
    assert [t["event"] for t in pendo.track_events()] == ["Seen cus_max"]
    assert any("a worker step failed" in r.getMessage() and r.step == "metadata" for r in caplog.records)


def test_worker_run_goes_on_after_an_unexpected_error(sqlite_url: str, pendo: FakePendo,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    worker = worker_for(sqlite_url, pendo, clock, worker_poll_seconds=0.01)
    calls: list[int] = []

    def flaky() -> int:
        calls.append(1)
        if len(calls) == 3:
            worker.stop.set()
        raise ValueError("not a database error")
    monkeypatch.setattr(worker, "run_once", flaky)
    worker.run()  # returns once stopped, not at the first error
    assert len(calls) == 3
