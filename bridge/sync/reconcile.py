"""Scheduled reconciliation: the worker runs `sync <provider> --reconcile` once per `BRIDGE_RECONCILE_HOURS`.

One reconciler per configured provider whose list API is available (`source(config)`). Its schedule is one row
in `controls` (`<provider>_reconcile`): when the next run is due and, while a run is on, the lease of the worker
running it. Every change is a compare-and-set of the whole row (`Store.swap_control`),
so of any number of workers — processes or hosts, on SQLite or PostgreSQL — exactly one wins a due run.
The winner renews its lease between pages; a worker killed mid-run stops renewing, its lease runs out and
another worker resumes from the sync's cursor. A failed run is tried again after `RETRY_SECONDS`, one stopped
by SIGTERM at once; a finished run makes the next one due a period after it started.

The run is `Sync.run(compare=True)` on a background thread, so the worker keeps mapping and delivering.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bridge.errors import BridgeError
from bridge.mapping import MappingSet
from bridge.providers.base import SubscriptionSource
from bridge.settings import Settings
from bridge.store.store import Store
from bridge.sync.initial import CHANGES_SHOWN, Sync, SyncReport, describe_changes, last_run_control

log = logging.getLogger("bridge.reconcile")



def state_control(provider: str) -> str:
    """The `controls` row holding the provider's reconcile schedule."""
    return f"{provider}_reconcile"


LEASE_SECONDS = 900.0  # a killed worker's run is taken over this long after its last renewal
RENEW_SECONDS = 60.0
RETRY_SECONDS = 3600.0  # after a failed run (never later than a period)
CHECK_SECONDS = 60.0  # how often a worker reads the schedule


def due_at(state: dict[str, Any] | None, last_run: dict[str, Any] | None, period: float) -> float:
    """When the next run is due: the schedule's own time, else a period after the last sync, else at once."""
    if state is not None:
        due = state.get("due_at")
        return float(due) if isinstance(due, int | float) else 0.0  # an unreadable row: due, and overwritten
    finished = (last_run or {}).get("finished_at")
    return float(finished) + period if isinstance(finished, int | float) else 0.0


def _object(raw: str | None) -> dict[str, Any] | None:
    """A control's JSON object; {} for a value that is not one."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass
class Lease:
    """A won claim: the row as this worker last wrote it."""

    raw: str
    started_at: float
    renewed_at: float


@dataclass
class Schedule:
    """The deployment-wide schedule in `controls`."""

    store: Store
    provider: str
    period: float  # seconds
    holder: str  # the worker id, shown in the row

    @property
    def name(self) -> str:
        return state_control(self.provider)

    def claim(self, now: float) -> Lease | None:
        """Take the run if it is due; None when it is not, or another worker took it first."""
        raw = self.store.control(self.name)
        state = _object(raw)
        last_run = _object(self.store.control(last_run_control(self.provider))) if state is None else None
        if now < due_at(state, last_run, self.period):
            return None
        value = json.dumps({"due_at": now + LEASE_SECONDS, "holder": self.holder, "started_at": now})
        return Lease(value, now, now) if self.store.swap_control(self.name, raw, value, now) else None

    def renew(self, lease: Lease, now: float) -> bool:
        """Extend the lease; False when it ran out and another worker took the run over."""
        value = json.dumps({**json.loads(lease.raw), "due_at": now + LEASE_SECONDS})
        if not self.store.swap_control(self.name, lease.raw, value, now):
            return False
        lease.raw, lease.renewed_at = value, now
        return True

    def release(self, lease: Lease, due: float, now: float) -> bool:
        """Give the run back with its next due time."""
        value = json.dumps({"due_at": due, "last_started_at": lease.started_at, "last_holder": self.holder})
        return self.store.swap_control(self.name, lease.raw, value, now)


def report_fields(report: SyncReport) -> dict[str, Any]:
    """The command's report numbers and the first corrected fields, for one log line."""
    return {**report.summary(), "corrected": list(describe_changes(report.changes))[:CHANGES_SHOWN]}


@dataclass
class Reconciler:
    """Starts a due reconcile on a background thread of the worker, one at a time, and logs what it corrected."""

    settings: Settings
    store: Store
    provider: str
    source: SubscriptionSource  # its budget is the provider's, shared with the worker's enrichment
    mappings: MappingSet
    holder: str
    clock: Callable[[], float] = time.time
    stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _next_check: float = 0.0

    @property
    def schedule(self) -> Schedule:
        return Schedule(self.store, self.provider, self.settings.reconcile_hours * 3600, self.holder)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def poll(self) -> None:
        """Start the run when it is due and this worker has none going; reads the schedule once a minute."""
        now = self.clock()
        if now < self._next_check or self.running or self.stop.is_set():
            return
        self._next_check = now + CHECK_SECONDS
        lease = self.schedule.claim(now)
        if lease is None:
            return
        log.info(f"{self.provider} reconcile started", extra={"holder": self.holder})
        self._thread = threading.Thread(target=self._run, args=(lease,), name="bridge-reconcile", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> bool:
        """Wait for a run in progress (it stops after its page once `stop` is set); True when none is left."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _run(self, lease: Lease) -> None:
        try:
            self._reconcile(lease)
        except Exception as exc:
            self._failed(lease, exc)

    def _reconcile(self, lease: Lease) -> None:
        lost = False

        def should_stop() -> bool:
            nonlocal lost
            now = self.clock()
            if now - lease.renewed_at >= RENEW_SECONDS and not self.schedule.renew(lease, now):
                lost = True
            return lost or self.stop.is_set()

        if hasattr(self.source, "sleep"):
            self.source.sleep = self._pause
        sync = Sync(self.settings, self.store, self.provider, self.source, self.mappings, self.clock,
                    should_stop=should_stop)
        report = sync.run(compare=True)
        if lost:
            log.warning(f"{self.provider} reconcile stopped: its lease ran out and another worker took the run over",
                        extra=report.summary())
        elif report.stopped:
            self.schedule.release(lease, self.clock(), self.clock())
            log.info(f"{self.provider} reconcile stopped; the next run resumes from its cursor", extra=report.summary())
        else:
            self.schedule.release(lease, lease.started_at + self.schedule.period, self.clock())
            log.info(f"{self.provider} reconcile finished", extra=report_fields(report))

    def _pause(self, seconds: float) -> None:
        """Wait out a rate limit, but not past a stop."""
        self.stop.wait(seconds)

    def _failed(self, lease: Lease, exc: Exception) -> None:
        """Log the failure (a BridgeError's message is safe to show; others with their traceback), retry later.

        A failure while the worker stops (a rate-limit wait cut short) is due again at once, like a stop.
        """
        retry_at = self.clock() + (0.0 if self.stop.is_set() else min(RETRY_SECONDS, self.schedule.period))
        if isinstance(exc, BridgeError):
            log.error(f"{self.provider} reconcile failed: %s", exc, extra={"retry_at": retry_at})
        else:
            log.error(f"{self.provider} reconcile failed: %s", type(exc).__name__, exc_info=True,
                      extra={"retry_at": retry_at})
        try:
            self.schedule.release(lease, retry_at, self.clock())
        except Exception:
            log.exception("the reconcile schedule could not be updated; the lease runs out instead")


class Reconcilers:
    """Every configured provider's reconciler, driven together by the worker."""

    def __init__(self, each: list[Reconciler]):
        self.each = each

    @property
    def stop(self) -> threading.Event:
        return self.each[0].stop

    @stop.setter
    def stop(self, event: threading.Event) -> None:
        """A running reconcile stops after its page once `event` is set."""
        for reconciler in self.each:
            reconciler.stop = event

    @property
    def running(self) -> bool:
        return any(reconciler.running for reconciler in self.each)

    def poll(self) -> None:
        for reconciler in self.each:
            reconciler.poll()

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for every run in progress; True when none is left."""
        deadline = time.monotonic() + timeout
        return all([reconciler.join(max(0.0, deadline - time.monotonic())) for reconciler in self.each])


def reconcilers(settings: Settings, store: Store, mappings: MappingSet, holder: str,
                clock: Callable[[], float] = time.time) -> Reconcilers | None:
    """One reconciler per configured provider with a list API; None when BRIDGE_RECONCILE_HOURS is off or none has."""
    from bridge.providers import registry

    if not settings.reconcile_hours:
        return None
    found = [Reconciler(settings, store, name, source, mappings, holder, clock)
             for name, config in settings.providers.items()
             if (source := registry.source(name, config)) is not None]
    return Reconcilers(found) if found else None
