"""The worker loop: one bad row or one failing step never stops the rest; retention runs whatever Pendo says."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from sqlalchemy import select

from bridge.mapping.operations import MetadataUpdate
from bridge.ops import metrics
from bridge.pendo import outbox as ob
from bridge.providers import Event
from bridge.settings import Settings
from bridge.store import store as st
from bridge.store.db import migrate
from bridge.store.schema import events
from bridge.worker.loop import Worker, build_worker
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


def finished(worker: Worker, event_id: str, customer: str, status: str, clock: Clock) -> None:
    worker.store.ingest(event(event_id, customer, clock.now), clock.now)
    [claimed] = [c for c in worker.store.claim_events("w", clock.now, 30, 10) if c.event.id == event_id]
    with worker.store.transaction() as connection:
        worker.store.finish_event(connection, claimed.row_id, "w", status=status, processed_at=clock.now)


def payloads(worker: Worker) -> dict[str, tuple[str, bool]]:
    with worker.store.engine.connect() as connection:
        return {row.event_id: (row.status, row.payload is not None) for row in connection.execute(select(events))}


def test_worker_retention_deletes_unresolved_and_failed_payloads_even_while_paused(
    database_url: str, pendo: FakePendo,
) -> None:
    clock = Clock()
    clock.now = 1_760_000_000.0
    worker = worker_for(database_url, pendo, clock, retention_days=30.0)
    for event_id, status in (("evt_unresolved", st.UNRESOLVED), ("evt_failed", st.FAILED),
                             ("evt_mapped", st.MAPPED)):
        finished(worker, event_id, f"cus_{event_id}", status, clock)
    with worker.store.transaction() as connection:  # the mapped event's value is still to be sent
        ob.enqueue_metadata(connection, MetadataUpdate("account", "acme", {"mrr": 1}, 1), "evt_mapped", "v", 1.0)
    pendo.set_auth_ok(False)  # Pendo refuses the key: nothing is sent, retention still runs
    worker.start_up()
    clock.advance(29 * DAY)
    worker.run_once()
    assert payloads(worker) == {"evt_unresolved": (st.UNRESOLVED, True), "evt_failed": (st.FAILED, True),
                                "evt_mapped": (st.MAPPED, True)}
    for _ in range(14):  # over 400 simulated days
        clock.advance(30 * DAY)
        worker.run_once()
    worker.delivery.close()
    assert payloads(worker) == {"evt_unresolved": ("expired", False), "evt_failed": (st.FAILED, False),
                                "evt_mapped": (st.MAPPED, True)}  # its value has not reached Pendo yet
    retention = metrics.collect(worker.settings, worker.store, clock.now)["retention"]
    assert retention["days"] == 30.0 and retention["stored_payloads"] == {st.MAPPED: 1}
    assert "unresolved and failed" in retention["deletes"]
    assert json.loads(json.dumps(retention))  # printable by `bridge status --json`
