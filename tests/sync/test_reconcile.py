"""Scheduled reconciliation: the schedule in `controls` (SQLite and PostgreSQL) and the worker running it."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bridge.settings import Settings
from bridge.store.db import make_engine, migrate
from bridge.store.schema import events, field_values
from bridge.store.store import Store
from bridge.sync.initial import cursor_control, last_run_control
from bridge.sync.reconcile import LEASE_SECONDS, RETRY_SECONDS, Lease, Schedule, due_at, state_control
from bridge.worker.loop import Worker, build_worker
from tests.conftest import Clock, make_settings, stripe_config
from tests.fakes.pendo import FakePendo
from tests.fakes.stripe import FakeStripe

PERIOD = 24 * 3600.0
CURSOR, LAST_RUN, STATE = cursor_control("stripe"), last_run_control("stripe"), state_control("stripe")
API_KEY = "sk_test_reconcile_" + "k" * 16


def stores(url: str, count: int) -> list[Store]:
    """`count` stores with an engine each, as separate worker processes would have."""
    settings = make_settings(url)
    migrate(settings)
    return [Store(make_engine(settings)) for _ in range(count)]


@pytest.mark.parametrize(
    ("state", "last_run", "expected"),
    [(None, None, 0.0),  # never synced: due at once
     (None, {"finished_at": 500.0}, 500.0 + PERIOD),  # a period after the last sync (command or day one)
     ({"due_at": 7.0}, {"finished_at": 500.0}, 7.0),  # the schedule's own time wins
     ({}, None, 0.0)],  # an unreadable row is due, and the next claim overwrites it
)
def test_schedule_due_at(state: dict[str, Any] | None, last_run: dict[str, Any] | None, expected: float) -> None:
    assert due_at(state, last_run, PERIOD) == expected


def test_schedule_runs_once_per_period(database_url: str) -> None:
    first, second = (Schedule(store, "stripe", PERIOD, f"w{n}") for n, store in enumerate(stores(database_url, 2)))
    lease = first.claim(1_000.0)
    assert lease is not None and second.claim(1_000.0) is None  # running: nobody else starts it
    assert first.release(lease, lease.started_at + PERIOD, 1_600.0)
    assert second.claim(1_000.0 + PERIOD - 1) is None
    assert second.claim(1_000.0 + PERIOD) is not None


def test_schedule_first_run_waits_a_period_after_the_last_sync(sqlite_url: str) -> None:
    [store] = stores(sqlite_url, 1)
    store.set_control(LAST_RUN, json.dumps({"subscriptions": 3, "finished_at": 5_000.0}), 5_000.0)
    schedule = Schedule(store, "stripe", PERIOD, "w1")
    assert schedule.claim(5_000.0 + PERIOD - 1) is None
    assert schedule.claim(5_000.0 + PERIOD) is not None


def test_schedule_crashed_run_is_taken_over_when_its_lease_runs_out(database_url: str) -> None:
    crashed, other = (Schedule(store, "stripe", PERIOD, f"w{n}") for n, store in enumerate(stores(database_url, 2)))
    lease = crashed.claim(1_000.0)  # and the process is killed: no renewal, no release
    assert lease is not None
    assert other.claim(1_000.0 + LEASE_SECONDS - 1) is None
    assert other.claim(1_000.0 + LEASE_SECONDS) is not None
    assert crashed.renew(lease, 1_000.0 + LEASE_SECONDS + 1) is False  # it lost the run, should it wake up


def test_schedule_renewal_keeps_a_long_run_to_its_worker(database_url: str) -> None:
    running, other = (Schedule(store, "stripe", PERIOD, f"w{n}") for n, store in enumerate(stores(database_url, 2)))
    lease = running.claim(1_000.0)
    assert lease is not None
    for minute in range(1, 40):  # a run longer than the lease, renewed every minute
        assert running.renew(lease, 1_000.0 + 60 * minute)
        assert other.claim(1_000.0 + 60 * minute + 1) is None
    assert other.claim(1_000.0 + 60 * 39 + LEASE_SECONDS) is not None


def test_schedule_racing_workers_exactly_one_wins(database_url: str) -> None:
    schedules = [Schedule(store, "stripe", PERIOD, f"w{n}") for n, store in enumerate(stores(database_url, 4))]
    now = 1_000.0
    for _ in range(5):
        barrier = threading.Barrier(len(schedules))
        answers: list[tuple[Schedule, Lease | None]] = []

        def race(schedule: Schedule, at: float, gate: threading.Barrier, results: list[Any]) -> None:
            gate.wait()
            results.append((schedule, schedule.claim(at)))

        threads = [threading.Thread(target=race, args=(s, now, barrier, answers)) for s in schedules]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        won = [(schedule, lease) for schedule, lease in answers if lease is not None]
        assert len(answers) == len(schedules) and len(won) == 1
        [(winner, lease)] = won
        assert winner.release(lease, now + PERIOD, now)  # the run finished; the next is due a period later
        assert all(schedule.claim(now + PERIOD - 1) is None for schedule in schedules)
        now += PERIOD


# The worker: a due reconcile runs on its own thread against the fake Stripe API.


@pytest.fixture
def stripe_api() -> Iterator[FakeStripe]:
    with FakeStripe(5) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _no_retry_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _: None)  # the official client's own retry pauses


def worker_for(url: str, pendo: FakePendo, stripe_api: FakeStripe, clock: Clock) -> Worker:
    settings: Settings = make_settings(
        url, providers={"stripe": stripe_config(api_key=API_KEY, api_base=stripe_api.url, requests_per_second=1000.0)},
        reconcile_hours=24.0, pendo_integration_key="key", pendo_track_secret="track", pendo_api_base=pendo.url,
        pendo_data_base=pendo.url)
    migrate(settings)
    return build_worker(settings, clock=clock)


def settle(worker: Worker) -> None:
    """Wait for the reconcile thread, then map what it stored."""
    assert worker.reconciler is not None and worker.reconciler.join(30)
    while worker.run_once():
        pass


def logged(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bridge.reconcile" and r.getMessage().startswith(message)]


def held_value(worker: Worker, account: str, name: str) -> Any:
    with worker.store.engine.connect() as connection:
        raw = connection.execute(select(field_values.c.value).where(
            field_values.c.entity_id == account, field_values.c.field == name)).scalar()
    return json.loads(raw) if raw else None


def test_worker_runs_a_due_reconcile_and_logs_what_it_corrected(
        sqlite_url: str, pendo: FakePendo, stripe_api: FakeStripe, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock()
    worker = worker_for(sqlite_url, pendo, stripe_api, clock)
    worker.run_once()  # never synced: due at once
    settle(worker)
    [first] = logged(caplog, "stripe reconcile finished")
    assert first.levelname == "INFO" and first.subscriptions == 5 and first.events_queued == 5
    assert held_value(worker, "acct-2", "billing_status") == "active"

    stripe_api.overrides[2] = {**stripe_api.make(2), "status": "past_due"}  # a webhook that never came
    clock.advance(PERIOD - 60)
    worker.run_once()
    assert not worker.reconciler.running  # type: ignore[union-attr]  # not due yet
    clock.advance(60)
    worker.run_once()
    settle(worker)
    [_, second] = logged(caplog, "stripe reconcile finished")
    assert second.corrected == ['account acct-2: billing_status: "active" -> "past_due"']
    assert second.fields_changed == 1 and second.entities_changed == 1 and second.subscriptions == 5
    assert held_value(worker, "acct-2", "billing_status") == "past_due"
    state = json.loads(worker.store.control(STATE) or "")
    assert state["due_at"] == 1_000.0 + 2 * PERIOD  # a period after this run started


def test_worker_stop_ends_a_running_reconcile_after_its_page_and_the_next_run_resumes(
        sqlite_url: str, pendo: FakePendo, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock()
    with FakeStripe(250) as stripe_api:
        worker = worker_for(sqlite_url, pendo, stripe_api, clock)
        answer = stripe_api.answer

        def sigterm_after_first_page(path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
            result = answer(path, query)
            if path == "/v1/subscriptions":
                worker.stop.set()  # what run_until_signalled does on SIGTERM
            return result

        stripe_api.answer = sigterm_after_first_page  # type: ignore[method-assign]
        runner = threading.Thread(target=worker.run)
        runner.start()
        runner.join(30)
        assert not runner.is_alive() and not worker.reconciler.running  # type: ignore[union-attr]
        assert stripe_api.paths.count("/v1/subscriptions") == 1  # no page after the stop
        assert json.loads(worker.store.control(CURSOR) or "")["after"] == "sub_0000099"
        assert json.loads(worker.store.control(STATE) or "")["due_at"] == clock.now  # free to resume at once
        assert logged(caplog, "stripe reconcile stopped")

        stripe_api.answer = answer  # type: ignore[method-assign]
        restarted = build_worker(worker.settings, clock=clock)
        restarted.run_once()
        settle(restarted)
        [finished] = logged(caplog, "stripe reconcile finished")
        assert finished.resumed_after == "sub_0000099" and finished.subscriptions == 150
        with restarted.store.engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(events)).scalar() == 250


def test_worker_reconcile_failure_is_logged_without_the_key_and_retried_later(
        sqlite_url: str, pendo: FakePendo, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock()
    with FakeStripe(250) as stripe_api:
        worker = worker_for(sqlite_url, pendo, stripe_api, clock)
        answer = stripe_api.answer

        def failing_after_first_page(path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
            result = answer(path, query)
            if path == "/v1/subscriptions" and stripe_api.paths.count(path) == 1:
                stripe_api.fail_next(500, 3)  # beyond the client's own two retries
            return result

        stripe_api.answer = failing_after_first_page  # type: ignore[method-assign]
        worker.run_once()
        assert worker.reconciler is not None and worker.reconciler.join(30)
        [failed] = logged(caplog, "stripe reconcile failed")
        assert failed.levelname == "ERROR" and "Stripe did not answer" in failed.getMessage()
        assert failed.retry_at == clock.now + RETRY_SECONDS
        assert API_KEY not in caplog.text
        worker.run_once()  # the worker goes on: it maps the page that was stored
        with worker.store.engine.connect() as connection:
            statuses = connection.execute(select(events.c.status, func.count()).group_by(events.c.status)).all()
        assert dict(statuses) == {"mapped": 100}

        clock.advance(RETRY_SECONDS - 1)
        worker.run_once()
        assert not worker.reconciler.running and len(logged(caplog, "stripe reconcile started")) == 1
        clock.advance(60)
        worker.run_once()
        settle(worker)
        [finished] = logged(caplog, "stripe reconcile finished")
        assert finished.resumed_after == "sub_0000099" and finished.subscriptions == 150


def test_worker_reconcile_refused_key_is_logged_plainly(
        sqlite_url: str, pendo: FakePendo, stripe_api: FakeStripe, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    worker = worker_for(sqlite_url, pendo, stripe_api, Clock())
    stripe_api.fail_next(401)
    worker.run_once()
    assert worker.reconciler is not None and worker.reconciler.join(30)
    [failed] = logged(caplog, "stripe reconcile failed")
    assert "Stripe refused STRIPE_API_KEY" in failed.getMessage() and failed.exc_info is None
    assert API_KEY not in caplog.text and API_KEY[-8:] not in caplog.text


def test_worker_without_the_setting_never_reconciles(sqlite_url: str, pendo: FakePendo,
                                                     stripe_api: FakeStripe) -> None:
    settings = make_settings(sqlite_url, providers={"stripe": stripe_config(api_key=API_KEY, api_base=stripe_api.url)},
                             pendo_integration_key="key", pendo_api_base=pendo.url, pendo_data_base=pendo.url)
    migrate(settings)
    worker = build_worker(settings, clock=Clock())
    worker.run_once()
    assert worker.reconciler is None and stripe_api.paths == []


def test_worker_reconcile_unexpected_error_is_logged_and_the_worker_goes_on(
        sqlite_url: str, pendo: FakePendo, stripe_api: FakeStripe, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("bridge.sync.reconcile.Sync.run", broken)
    clock = Clock()
    worker = worker_for(sqlite_url, pendo, stripe_api, clock)
    worker.run_once()
    assert worker.reconciler is not None and worker.reconciler.join(30)
    [failed] = logged(caplog, "stripe reconcile failed")
    assert "RuntimeError" in failed.getMessage() and failed.exc_info is not None
    assert json.loads(worker.store.control(STATE) or "")["due_at"] == clock.now + RETRY_SECONDS
    worker.run_once()  # the worker itself is unharmed
