"""The deployment's one request budget, held in the database: pacing, shared waits, counters."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine

from bridge.pendo.budget import Budget
from bridge.store.db import make_engine, migrate
from tests.conftest import make_settings


@pytest.fixture
def engine(database_url: str) -> Engine:
    settings = make_settings(database_url)
    migrate(settings)
    return make_engine(settings)


def test_budget_paces_to_the_rate_after_the_burst(engine: Engine) -> None:
    budget = Budget(engine, rate=10, burst=3)
    granted = [budget.try_acquire("metadata", 100.0).granted for _ in range(5)]
    assert granted == [True, True, True, False, False]
    wait, blocked = budget.try_acquire("metadata", 100.0)
    assert wait == pytest.approx(0.1, abs=1e-6) and not blocked
    assert budget.try_acquire("metadata", 100.0 + wait).granted


def test_budget_is_one_for_all_processes(engine: Engine, database_url: str) -> None:
    # Two budgets on two engines stand for two worker processes: together they get the rate, not twice it.
    other = make_engine(make_settings(database_url))
    budgets = [Budget(engine, rate=5, burst=1), Budget(other, rate=5, burst=1)]
    granted: list[float] = []
    lock = threading.Lock()

    def take(budget: Budget) -> None:
        for step in range(40):
            now = 200.0 + step * 0.05  # two seconds of asking, every 50 ms
            if budget.try_acquire("track", now).granted:
                with lock:
                    granted.append(now)

    threads = [threading.Thread(target=take, args=(b,)) for b in budgets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert 9 <= len(granted) <= 11  # 5/s over 2 s, not 10/s


def test_budget_retry_after_blocks_the_endpoint_for_everyone(engine: Engine) -> None:
    budget, other = Budget(engine, rate=100), Budget(engine, rate=100)
    budget.defer("metadata", until=103.0, now=100.0)
    assert other.try_acquire("metadata", 101.0) == (pytest.approx(2.0), True)
    assert other.blocked_for("metadata", 101.0) == pytest.approx(2.0)
    assert other.try_acquire("track", 101.0).granted  # the other endpoint is not affected
    assert other.try_acquire("metadata", 103.0).granted
    budget.defer("metadata", until=102.0, now=103.0)  # an earlier deadline never shortens a wait
    assert budget.blocked_for("metadata", 101.0) == pytest.approx(2.0)


def test_budget_ready_in_says_when_the_next_request_could_go(engine: Engine) -> None:
    budget = Budget(engine, rate=10, burst=1)
    assert budget.ready_in("metadata", 100.0) == 0.0
    assert budget.try_acquire("metadata", 100.0).granted
    assert budget.ready_in("metadata", 100.0) == pytest.approx(0.1)  # pacing, shared by both endpoints
    assert budget.ready_in("track", 100.05) == pytest.approx(0.05)
    budget.defer("metadata", until=103.0, now=100.0)
    assert budget.ready_in("metadata", 100.0) == pytest.approx(3.0)  # the shared wait is longer
    assert budget.ready_in("track", 100.2) == 0.0


def test_budget_counts_requests_and_failures(engine: Engine) -> None:
    budget = Budget(engine, rate=100)
    for _ in range(3):
        assert budget.try_acquire("track", 50.2).granted
    assert budget.try_acquire("metadata", 51.1).granted
    state = budget.state(51.5)
    assert state["track"].requests_total == 3 and state["track"].requests_last_second == 3
    assert state["all"].requests_total == 4 and state["all"].requests_last_second == 3
    assert budget.state(53.0)["all"].requests_last_second == 0
    assert [budget.record_failure("track", 1.0) for _ in range(3)] == [1, 2, 3]
    budget.record_success("track")
    assert budget.state(51.5)["track"].failures == 0
