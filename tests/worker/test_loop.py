"""The worker loop's handling of pauses, with a hand-moved clock, a fake Pendo and a real database."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import OperationalError

from bridge.mapping.operations import MetadataUpdate
from bridge.pendo import outbox as ob
from bridge.store.db import migrate
from bridge.worker.loop import (
    OUTAGE_MAX_WAIT_SECONDS,
    OUTAGE_WARNING_SECONDS,
    RESUME_CHECK_SECONDS,
    DatabaseOutage,
    Worker,
    build_worker,
)
from tests.conftest import Clock, make_settings
from tests.fakes.pendo import FakePendo


def worker_for(database_url: str, pendo: FakePendo, clock: Clock, **overrides: object) -> Worker:
    values: dict[str, object] = {"pendo_integration_key": "key", "pendo_track_secret": "track",
                                 "metadata_linger_seconds": 0.0, **overrides}
    settings = make_settings(database_url, pendo_api_base=pendo.url, pendo_data_base=pendo.url, **values)
    migrate(settings)
    worker = build_worker(settings, clock=clock)
    worker.delivery.sleep = clock.advance
    return worker


def enqueue(worker: Worker, n: int) -> None:
    now_ms = int(worker.clock() * 1000)
    payload = {"type": "track", "event": "Invoice Paid", "visitorId": f"v{n}", "timestamp": now_ms,
               "properties": {}, "context": {}}
    with worker.store.transaction() as connection:
        ob.enqueue_track(connection, f"evt_{n}", "r", payload, now_ms, "v1", worker.clock())
        ob.enqueue_metadata(connection, MetadataUpdate("account", f"acct-{n}", {"mrr": n}, n), f"evt_{n}", "v1",
                            now=worker.clock())


def test_worker_wrong_track_secret_does_not_flap(database_url: str, pendo: FakePendo, clock: Clock,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    worker = worker_for(database_url, pendo, clock, pendo_track_secret="wrong")
    worker.start_up()
    try:
        with caplog.at_level(logging.INFO):
            for n in range(6):
                enqueue(worker, n)
                worker.run_once()
                clock.advance(RESUME_CHECK_SECONDS + 1)
        faults = [r for r in caplog.records if getattr(r, "alert", None) == "auth_fault"]
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(faults) == 1 and errors == faults
        assert pendo.track_events() == []
        assert len(pendo.calls("/data/track")) <= 6  # the first refusal, then one probe per check
        assert all(pendo.account_values(f"acct-{n}") == {"mrr": n} for n in range(6))  # metadata went on
        assert worker.delivery.paused() is None
    finally:
        worker.delivery.close()


def test_worker_track_pause_from_before_a_restart_resumes_on_the_first_accepted_probe(
        database_url: str, pendo: FakePendo, clock: Clock) -> None:
    worker = worker_for(database_url, pendo, clock)
    worker.store.set_control("pendo_track_paused", "Pendo answered 403 to POST /data/track", clock.now)
    enqueue(worker, 1)
    enqueue(worker, 2)
    worker.start_up()
    try:
        worker.run_once()
        assert worker.delivery.tracks_paused() is None
        assert sorted(t["visitorId"] for t in pendo.track_events()) == ["v1", "v2"]
    finally:
        worker.delivery.close()


def test_worker_database_outage_logs_its_start_a_warning_now_and_then_and_its_end(
        caplog: pytest.LogCaptureFixture) -> None:
    outage, now = DatabaseOutage(), 1_000.0
    failure = OperationalError("SELECT 1", {"secret_row": "x"}, Exception("connection refused\nDETAIL: row"))
    with caplog.at_level(logging.INFO):
        for _ in range(200):  # 100 s of failing steps, one every half second
            outage.failed(failure, now)
            now += 0.5
        outage.recovered(now)
        outage.recovered(now + 1)
    levels = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert levels[0] == ("ERROR", "a worker step failed on the database; retrying with backoff")
    assert [lvl for lvl, _ in levels[1:-1]] == ["WARNING"] * int(100 // OUTAGE_WARNING_SECONDS)
    assert levels[-1] == ("INFO", "the database answers again: the worker goes on")
    reasons = " ".join(str(getattr(r, "reason", "")) for r in caplog.records)
    assert "connection refused" in reasons and "secret_row" not in reasons and "DETAIL" not in reasons


def test_worker_database_outage_waits_longer_up_to_a_cap() -> None:
    outage = DatabaseOutage()
    assert outage.wait(0.1) == 0.1
    waits = []
    for _ in range(12):
        outage.failed(OperationalError("SELECT 1", {}, Exception("down")), 0.0)
        waits.append(outage.wait(0.1))
    assert waits[0] == 0.2 and waits == sorted(waits) and waits[-1] == OUTAGE_MAX_WAIT_SECONDS
    outage.recovered(1.0)
    assert outage.wait(0.1) == 0.1
