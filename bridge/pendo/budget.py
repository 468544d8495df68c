"""The deployment's one request budget toward Pendo, kept in the database so that every process shares it.

Pacing is GCRA over the row "all": a request may go when the theoretical arrival time `tat` is at most
`burst - 1` intervals ahead of now, and it moves `tat` one interval on. One conditional UPDATE decides, so two
processes never both take the last slot: SQLite serialises writers, PostgreSQL locks the row and re-checks the
WHERE clause. Over any second at most `rate + burst` requests go out, `rate` on average.

Each endpoint ("metadata", "track") also has a shared wait, `not_before`, set from Pendo's `Retry-After` or
from the shared backoff after a transient failure: until it passes, no process sends to that endpoint, and
many rows failing at once share that one wait instead of retrying one by one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Engine, case, select, update

from bridge.store.db import reading
from bridge.store.schema import pendo_budget
from bridge.store.store import insert_for

ALL = "all"
ENDPOINTS = ("metadata", "track")


class Slot(NamedTuple):
    """The budget's answer: `wait` 0.0 means granted; `blocked` means the endpoint's shared wait holds it."""

    wait: float
    blocked: bool = False

    @property
    def granted(self) -> bool:
        return self.wait == 0.0


@dataclass(frozen=True)
class EndpointState:
    """What the budget row of one endpoint says right now."""

    requests_total: int
    requests_last_second: int
    wait_seconds: float
    failures: int


def _counted(second: int) -> dict[str, Any]:
    """SET clauses counting one more request in the current second (each reads the row's old values)."""
    c = pendo_budget.c
    same = c.window_second == second
    return {
        "window_count": case((same, c.window_count + 1), else_=1),
        "last_count": case((same, c.last_count), (c.window_second == second - 1, c.window_count), else_=0),
        "window_second": second,
        "sent_total": c.sent_total + 1,
    }


class Budget:
    """Takes request slots from the shared budget; every method is one short transaction."""

    def __init__(self, engine: Engine, rate: float, burst: int | None = None):
        self.engine = engine
        self.rate = rate
        self.interval = 1.0 / rate
        self.burst = burst if burst is not None else max(1, int(rate // 4))
        self._rows_ready = False
        self._rows_lock = threading.Lock()

    def _ensure_rows(self) -> None:
        """Create the budget rows once, committed before any thread of this process relies on them."""
        with self._rows_lock:
            if self._rows_ready:
                return
            with self.engine.begin() as connection:
                for name in (ALL, *ENDPOINTS):
                    statement = insert_for(connection, pendo_budget).values(
                        name=name, tat=0.0, not_before=0.0, failures=0, window_second=0, window_count=0,
                        last_count=0, sent_total=0, updated_at=0.0)
                    connection.execute(statement.on_conflict_do_nothing(index_elements=["name"]))
            self._rows_ready = True

    def try_acquire(self, endpoint: str, now: float) -> Slot:
        """Take one request slot for `endpoint`, or say how long to wait before asking again."""
        c = pendo_budget.c
        tolerance = (self.burst - 1) * self.interval
        self._ensure_rows()
        with self.engine.begin() as connection:
            not_before = connection.execute(select(c.not_before).where(c.name == endpoint)).scalar_one()
            if not_before > now:
                return Slot(float(not_before - now), blocked=True)
            granted = connection.execute(
                update(pendo_budget).where(c.name == ALL, c.tat <= now + tolerance).values(
                    tat=case((c.tat > now, c.tat), else_=now) + self.interval, updated_at=now,
                    **_counted(int(now)))
            ).rowcount == 1
            if not granted:
                tat = connection.execute(select(c.tat).where(c.name == ALL)).scalar_one()
                return Slot(max(float(tat) - tolerance - now, 0.001))
            connection.execute(update(pendo_budget).where(c.name == endpoint).values(updated_at=now,
                                                                                      **_counted(int(now))))
        return Slot(0.0)

    def blocked_for(self, endpoint: str, now: float) -> float:
        """Seconds the shared wait of `endpoint` still lasts (0.0 when none)."""
        with reading(self.engine) as connection:
            value = connection.execute(
                select(pendo_budget.c.not_before).where(pendo_budget.c.name == endpoint)).scalar_one_or_none()
        return max(float(value or 0.0) - now, 0.0)

    def ready_in(self, endpoint: str, now: float) -> float:
        """Seconds before a request to `endpoint` could go (0.0: now): its shared wait, then the pacing."""
        c = pendo_budget.c
        with reading(self.engine) as connection:
            rows = dict(connection.execute(select(c.name, case((c.name == ALL, c.tat), else_=c.not_before))
                                           .where(c.name.in_([ALL, endpoint]))).all())
        pacing = float(rows.get(ALL) or 0.0) - (self.burst - 1) * self.interval
        return max(float(rows.get(endpoint) or 0.0) - now, pacing - now, 0.0)

    def defer(self, endpoint: str, until: float, now: float) -> None:
        """Make the whole deployment wait until `until` before sending to `endpoint` again."""
        c = pendo_budget.c
        self._ensure_rows()
        with self.engine.begin() as connection:
            connection.execute(update(pendo_budget).where(c.name == endpoint).values(
                not_before=case((c.not_before < until, until), else_=c.not_before), updated_at=now))

    def record_failure(self, endpoint: str, now: float) -> int:
        """Count one more consecutive transient failure of `endpoint`; return the count."""
        c = pendo_budget.c
        self._ensure_rows()
        with self.engine.begin() as connection:
            connection.execute(update(pendo_budget).where(c.name == endpoint)
                               .values(failures=c.failures + 1, updated_at=now))
            return int(connection.execute(select(c.failures).where(c.name == endpoint)).scalar_one())

    def record_success(self, endpoint: str) -> None:
        """Reset the consecutive failures of `endpoint` (a no-op write when there were none)."""
        c = pendo_budget.c
        with self.engine.begin() as connection:
            connection.execute(update(pendo_budget).where(c.name == endpoint, c.failures > 0).values(failures=0))

    def state(self, now: float) -> dict[str, EndpointState]:
        """Each row's counters as of `now` ("all" and every endpoint); empty before the first request."""
        second = int(now)
        with reading(self.engine) as connection:
            rows = connection.execute(select(pendo_budget)).mappings().all()
        found = {}
        for row in rows:
            if row["window_second"] == second:
                last = row["last_count"]
            elif row["window_second"] == second - 1:
                last = row["window_count"]
            else:
                last = 0
            found[row["name"]] = EndpointState(int(row["sent_total"]), int(last),
                                               max(float(row["not_before"]) - now, 0.0), int(row["failures"]))
        return found
