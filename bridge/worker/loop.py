"""The worker loop: map stored events, deliver the outbox, keep the pause and retention in check.

SIGTERM sets a flag that every step checks: the step in flight (at most one Pendo call, 10 s timeout)
finishes and its outcome is recorded, well within a PaaS's 30 s before SIGKILL. A scheduled reconcile
(`bridge.sync.reconcile`) runs on its own thread and stops after the page in flight.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from bridge.mapping import load_mappings
from bridge.ops import alerts, metrics
from bridge.pendo.client import PendoClient
from bridge.pendo.delivery import Delivery
from bridge.pendo.outbox import Outbox
from bridge.settings import Settings
from bridge.store.db import describe, make_engine
from bridge.store.store import Store
from bridge.sync.reconcile import Reconcilers, reconcilers
from bridge.worker import enrichment
from bridge.worker.mapper import Mapper

log = logging.getLogger("bridge.worker")

RESUME_CHECK_SECONDS = 15.0
HOUSEKEEPING_SECONDS = 60.0
LAG_CHECK_SECONDS = 30.0
RECONCILE_JOIN_SECONDS = 10.0  # within a PaaS's 30 s before SIGKILL, after the step in flight
MAP_BATCH = 100
# With full batches waiting, map for up to this long before sending: the steps take turns, and sending waits on
# Pendo and on the budget, so one batch per turn left events waiting behind a backlog of track events.
MAP_SLICE_SECONDS = 1.0
OUTAGE_MAX_WAIT_SECONDS = 5.0  # between steps while the database fails them: a restart is noticed within this
OUTAGE_WARNING_SECONDS = 30.0


@dataclass
class DatabaseOutage:
    """Worker steps failing on the database one after another: a growing wait between them, and one ERROR line
    when it starts, a WARNING at most every OUTAGE_WARNING_SECONDS, an INFO line when it ends (not one per step)."""

    since: float | None = None
    failures: int = 0
    next_warning: float = 0.0

    def failed(self, exc: Exception, now: float) -> None:
        self.failures += 1
        if self.since is None:
            self.since, self.next_warning = now, now + OUTAGE_WARNING_SECONDS
            log.error("a worker step failed on the database; retrying with backoff", exc_info=exc)
        elif now >= self.next_warning:
            self.next_warning = now + OUTAGE_WARNING_SECONDS
            log.warning("the database still fails the worker's steps", extra={
                "failing_seconds": round(now - self.since, 1), "failures": self.failures, "reason": describe(exc)})

    def recovered(self, now: float) -> None:
        if self.since is not None:
            log.info("the database answers again: the worker goes on", extra={
                "outage_seconds": round(now - self.since, 1), "failures": self.failures})
            self.since, self.failures = None, 0

    def wait(self, poll: float) -> float:
        """How long to wait before the next step: the poll interval, doubled per failure up to a few seconds."""
        return min(poll * 2 ** min(self.failures, 10), max(poll, OUTAGE_MAX_WAIT_SECONDS)) if self.failures else poll


@dataclass
class Worker:
    """Runs the steps in turn until stopped."""

    settings: Settings
    store: Store
    mapper: Mapper
    delivery: Delivery
    clock: Callable[[], float] = time.time
    stop: threading.Event = field(default_factory=threading.Event)
    reconciler: Reconcilers | None = None  # BRIDGE_RECONCILE_HOURS
    outage: DatabaseOutage = field(default_factory=DatabaseOutage)
    _next_resume_check: float = 0.0
    _next_track_probe: float = 0.0
    _next_housekeeping: float = 0.0
    _next_retention: float = 0.0
    _next_lag_check: float = 0.0
    _lagging: bool = False

    def __post_init__(self) -> None:
        self.delivery.stop = self.stop  # budget waits and the track senders stop with the worker
        if self.reconciler:
            self.reconciler.stop = self.stop  # a running reconcile stops after its page

    def run(self) -> None:
        log.info("worker started", extra={"worker": self.mapper.worker_id})
        self.start_up()
        try:
            while not self.stop.is_set():
                try:
                    done = self.run_once()
                except SQLAlchemyError as exc:
                    # A database hiccup (a lost connection, a restart, a deadlock victim): rows stay claimed until
                    # their lease runs out, nothing is lost; the next step starts afresh, after a backoff.
                    self.outage.failed(exc, self.clock())
                    done = 0
                except Exception:  # a fault of our own code: logged, and the worker keeps serving the rest
                    log.exception("a worker step failed; retrying shortly")
                    done = 0
                else:
                    self.outage.recovered(self.clock())
                if not done:
                    self.stop.wait(self.outage.wait(self.settings.worker_poll_seconds))
        finally:
            self.delivery.close()
            if self.reconciler and not self.reconciler.join(RECONCILE_JOIN_SECONDS):
                log.warning("the reconcile did not stop in time; its lease runs out and another run resumes it")
        log.info("worker stopped", extra={"worker": self.mapper.worker_id})

    def start_up(self) -> None:
        """Check the Pendo key once before sending anything (Pendo out of reach is no reason to wait)."""
        if not self.settings.track_enabled:
            log.warning("PENDO_TRACK_EVENT_SECRET is not set: track rules are off, only metadata is sent")
        if not self.settings.pendo_integration_key:
            self.delivery.pause("PENDO_INTEGRATION_KEY is not set")
            return
        self.delivery.try_resume()

    def run_once(self) -> int:
        """One pass over every step; returns how much work was done."""
        done = self._step("mapping", self.map_batch)
        self._check_lag()
        if self.reconciler:
            self.reconciler.poll()  # starts a due reconcile on its own thread
        self._expire_payloads()  # whether or not Pendo takes requests: retention is about what is stored here
        if self.stop.is_set() or not self._sending_allowed():
            return done
        done += self._step("metadata", self.delivery.send_metadata)
        if not self.stop.is_set() and self._tracks_allowed():
            done += self._step("track events", self.delivery.send_tracks)
        self._housekeeping()
        return done

    def _step(self, name: str, step: Callable[[], int]) -> int:
        """Run one step; a fault of our own code in it is logged and the other steps still run. (Rows are settled
        one by one, so such a fault is a bug, not a bad row; database errors go to `run`.)"""
        try:
            return step()
        except SQLAlchemyError:
            raise
        except Exception:
            log.exception("a worker step failed; the other steps go on", extra={"step": name})
            return 0

    def map_batch(self) -> int:
        """Map stored events, batch after batch while batches come full, for up to MAP_SLICE_SECONDS (each log line
        about one carries its event id and request id)."""
        deadline, done = time.monotonic() + MAP_SLICE_SECONDS, 0
        while True:
            mapped = self.mapper.run_batch(MAP_BATCH)
            done += mapped
            if mapped < MAP_BATCH or self.stop.is_set() or time.monotonic() >= deadline:
                return done

    def _check_lag(self) -> None:
        """Alert once when the oldest undelivered change is older than BRIDGE_LAG_ALERT_SECONDS."""
        now = self.clock()
        if now < self._next_lag_check:
            return
        self._next_lag_check = now + min(LAG_CHECK_SECONDS, self.settings.lag_alert_seconds / 2)
        lag = metrics.lag_seconds(self.store, self.delivery.outbox, now)
        breached = lag > self.settings.lag_alert_seconds
        message = "delivery lags: the oldest change not yet in Pendo is older than BRIDGE_LAG_ALERT_SECONDS"
        fields = {"lag_seconds": round(lag, 1), "threshold_seconds": self.settings.lag_alert_seconds}
        if breached and not self._lagging:
            self.delivery.alerter.fire(alerts.LAG, message, **fields)
        elif breached:
            self.delivery.alerter.notify(alerts.LAG, message, **fields)  # the webhook's own limit applies
        elif self._lagging:
            log.info("delivery lag is back under the threshold", extra=fields)
        self._lagging = breached

    def _sending_allowed(self) -> bool:
        if self.delivery.paused() is None:
            return True
        now = self.clock()
        if now < self._next_resume_check or not self.settings.pendo_integration_key:
            return False
        self._next_resume_check = now + RESUME_CHECK_SECONDS
        return self.delivery.try_resume()

    def _tracks_allowed(self) -> bool:
        """Track events go unless the track secret was refused; then one probe per RESUME_CHECK_SECONDS."""
        if self.delivery.tracks_paused() is None:
            return True
        now = self.clock()
        if now < self._next_track_probe:
            return False
        self._next_track_probe = now + RESUME_CHECK_SECONDS
        return self.delivery.probe_tracks()

    def _housekeeping(self) -> None:
        now = self.clock()
        if now < self._next_housekeeping:
            return
        self._next_housekeeping = now + HOUSEKEEPING_SECONDS
        self.delivery.release_held()

    def _expire_payloads(self) -> None:
        now = self.clock()
        if now < self._next_retention:
            return
        self._next_retention = now + HOUSEKEEPING_SECONDS
        expired = self.store.expire_payloads(now - self.settings.retention_days * 86400)
        if expired:
            log.info("payloads past retention deleted", extra={"events": expired})


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def build_worker(settings: Settings, clock: Callable[[], float] = time.time) -> Worker:
    """Wire a worker from settings: database, mappings, each provider's enrichment, Pendo client."""
    store = Store(make_engine(settings))
    ident = worker_id()
    enricher = enrichment.online(store, settings.providers, clock)
    mappings = load_mappings(settings.mappings_dir, settings.mappings_overlay_dir)
    mapper = Mapper(settings, store, mappings, enricher, ident, clock)
    delivery = Delivery(settings, store, Outbox(store.engine), PendoClient(settings), ident, clock)
    reconciler = reconcilers(settings, store, mappings, ident, clock)
    return Worker(settings, store, mapper, delivery, clock, reconciler=reconciler)


def run_until_signalled(worker: Worker) -> None:
    """Run the worker in this (main) thread, stopping cleanly on SIGTERM or SIGINT."""
    def _stop(signum: int, _frame: object) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        worker.stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.run()
