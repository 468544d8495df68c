"""Sends the outbox to Pendo and reads Pendo's answer per row.

- A 401/403 from the metadata API is deployment-wide (wrong key, read-only key, wrong region): all sending
  pauses, rows stay pending, one error line is logged, and sending resumes once the token verifies again.
- A 401/403 from `/data/track` is the track secret, which token/verify does not check: track events alone are
  held (metadata goes on), one error line is logged, and they resume only when Pendo accepts a track event
  again — the worker sends the oldest due one as a probe, every RESUME_CHECK_SECONDS.
- Pendo out of reach (connection error, timeout, 5xx) is never a pause: it is retried like any transient failure.
- Ids Pendo reports missing wait (`waiting_for_pendo`) for the configured window: a new customer often
  pays before Pendo has seen their account.
- A field Pendo does not know is a configuration fault: its values are held, not failed, and released
  when the field appears in Pendo's schema.
- Transient failures retry with exponential backoff and jitter, the attempt count stored in the row. The
  backoff is shared: a failed request makes the whole deployment wait before the next request to that
  endpoint (`Retry-After` when Pendo sends one), and every row of that request retries at the same time.
- Every request takes a slot from the deployment's one budget (`bridge.pendo.budget`); metadata waits a short
  linger so that changes arriving together go out as one bulk request; track events go out through a small
  thread pool, never coalesced.
- Permanent failures, auth faults and configuration faults raise alerts (`bridge.ops.alerts`).
- A row our own code cannot send (an exception that is not Pendo's answer) fails alone, with the reason; the
  rows claimed with it go on.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from bridge.errors import PendoAuthError, PendoError, PendoTransient
from bridge.ops import alerts, backoff
from bridge.ops.alerts import Alerts
from bridge.ops.logs import bound
from bridge.pendo import outbox
from bridge.pendo.budget import Budget
from bridge.pendo.client import BulkResult, PendoClient, is_expired
from bridge.pendo.outbox import ClaimedTrack, EntityBatch, Outbox, Settlement
from bridge.settings import Settings
from bridge.store.store import Store

log = logging.getLogger("bridge.delivery")

PAUSE = "pendo_paused"  # the integration key: all sending waits
TRACK_PAUSE = "pendo_track_paused"  # the track secret: track events wait
MAX_EXPIRED_PER_PROBE = 1000  # expired track events settled while looking for one to probe with
MAX_FAILED_ATTEMPTS = 10  # rows Pendo counts failed without saying why
METADATA, TRACK = "metadata", "track"  # the budget's endpoint names
MAX_SLOT_TRIES = 200  # bounds the wait for a budget slot, with the deadline below
METADATA_SLICE_SECONDS = 1.0  # with a backlog of full batches, send for up to this long before mapping again
TRACK_STEP_SECONDS = 0.5  # track events claimed in one step: what the budget lets out in this long


@dataclass
class Delivery:
    """One worker's sending side."""

    settings: Settings
    store: Store
    outbox: Outbox
    client: PendoClient
    worker_id: str
    clock: Callable[[], float]
    batch_size: int = 0  # 0: PENDO_METADATA_BATCH_SIZE
    budget: Budget | None = None
    alerts: Alerts | None = None
    sleep: Callable[[float], object] | None = None  # default: wait on `stop`
    stop: threading.Event = field(default_factory=threading.Event)
    _pool: ThreadPoolExecutor | None = None

    def __post_init__(self) -> None:
        self.batch_size = self.batch_size or self.settings.metadata_batch_size
        if self.budget is None:
            self.budget = Budget(self.store.engine, self.settings.pendo_requests_per_second)
        if self.alerts is None:
            self.alerts = Alerts(self.settings, self.store.engine, self.clock)

    @property
    def _budget(self) -> Budget:
        assert self.budget is not None
        return self.budget

    @property
    def alerter(self) -> Alerts:
        assert self.alerts is not None
        return self.alerts

    def close(self) -> None:
        """Stop the track senders' pool (after the step in flight)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def paused(self) -> str | None:
        return self.store.control(PAUSE)

    def pause(self, reason: str) -> None:
        if self.paused() is None:
            self.alerter.fire(alerts.AUTH_FAULT, "Pendo refused the credentials: all sending is paused until the "
                              "key verifies again", reason=reason)
        self.store.set_control(PAUSE, reason, self.clock())

    def tracks_paused(self) -> str | None:
        return self.store.control(TRACK_PAUSE)

    def pause_tracks(self, reason: str) -> None:
        if self.tracks_paused() is None:
            self.alerter.fire(alerts.AUTH_FAULT, "Pendo refused the track secret (check PENDO_TRACK_EVENT_SECRET): "
                              "track events are held until Pendo accepts one again", reason=reason)
        else:
            log.info("Pendo still refuses the track secret: track events stay held")
        self.store.set_control(TRACK_PAUSE, reason, self.clock())

    # The shared budget.
    def _slot_deadline(self, claimed_at: float) -> float:
        """Rows claimed at `claimed_at` give their slots up by then, well inside the claim's lease."""
        return claimed_at + min(5.0, self.settings.claim_seconds / 3)

    def _take_slot(self, endpoint: str, deadline: float) -> bool:
        """Wait, until `deadline` at most, for a request slot toward `endpoint`; False when none came or on stop."""
        for _ in range(MAX_SLOT_TRIES):
            now = self.clock()
            slot = self._budget.try_acquire(endpoint, now)
            if slot.granted:
                return True
            if slot.blocked or now + slot.wait > deadline or self.stop.is_set():
                return False  # a shared wait (Retry-After, backoff) is not waited out holding claims
            (self.sleep or self.stop.wait)(slot.wait)
        return False

    def _back_off(self, endpoint: str, exc: PendoTransient) -> float:
        """Make the deployment wait before the next request to `endpoint`; return when it may go again."""
        now = self.clock()
        failures = self._budget.record_failure(endpoint, now)
        delay = backoff.delay(failures, self.settings.retry_base_seconds, self.settings.retry_max_seconds)
        until = now + max(delay, exc.retry_after or 0.0)
        self._budget.defer(endpoint, until, now)
        log.warning("Pendo failed a request: the deployment waits before the next one to this endpoint",
                    extra={"endpoint": endpoint, "status": exc.status, "retry_after": exc.retry_after,
                           "wait_seconds": round(until - now, 3), "reason": str(exc)})
        return until

    def try_resume(self) -> bool:
        """Verify the integration key; clear the pause when it is valid and can write. True when sending may go on.

        Pendo out of reach says nothing about the key: an existing pause stays, and without one sending goes on
        (its own failures are retried as usual, and a 401/403 would pause it)."""
        try:
            status = self.client.verify_token()
        except PendoTransient as exc:
            log.warning("Pendo could not be reached to verify PENDO_INTEGRATION_KEY: a network fault, checked again "
                        "later", extra={"reason": str(exc)})
            return self.paused() is None
        except PendoError as exc:
            self.pause(str(exc))
            return False
        if not (status.valid and status.write_access):
            self.pause("PENDO_INTEGRATION_KEY is valid but has no write access" if status.valid
                       else "PENDO_INTEGRATION_KEY is not valid")
            return False
        if self.paused() is not None:
            log.info("Pendo accepts the key again: sending resumes")
            self.store.set_control(PAUSE, None, self.clock())
        return True

    # Metadata.
    def send_metadata(self) -> int:
        """Send the due metadata as bulk requests, once a batch is full or the linger is over."""
        sent, started = 0, self.clock()
        while not self.stop.is_set() and self.clock() - started < METADATA_SLICE_SECONDS:
            claimed = self._send_metadata_once()
            sent += claimed
            if claimed < self.batch_size:
                break  # no backlog left: back to mapping
        return sent

    def _send_metadata_once(self) -> int:
        now = self.clock()
        if self._budget.ready_in(METADATA, now) > 0:
            # The deployment waits (Retry-After, shared backoff) or the budget has no slot yet: claim nothing
            # meanwhile, so the rows keep coalescing and this worker goes back to mapping.
            return 0
        batches = self.outbox.claim_entities(self.worker_id, now, self.settings.claim_seconds, self.batch_size,
                                             linger=self.settings.metadata_linger_seconds)
        groups: dict[tuple[str, bool], list[EntityBatch]] = defaultdict(list)
        for batch in batches:
            groups[(batch.kind, batch.create)].append(batch)
        for (kind, create), members in groups.items():
            if self.stop.is_set() or not self._take_slot(METADATA, self._slot_deadline(now)):
                self.outbox.settle(self.worker_id, [Settlement(b, outbox.PENDING) for b in members])
                continue
            self._send_group(kind, create, members)
        return len(batches)

    def _send_group(self, kind: str, create: bool, members: list[EntityBatch]) -> None:
        try:
            result = self.client.send_metadata(kind, [(b.entity_id, b.values) for b in members], create=create)
        except PendoError as exc:
            return self._refused(kind, members, exc)
        except Exception as exc:  # not Pendo's answer: a value our code cannot send
            return self._unsendable(kind, create, members, exc)
        self._budget.record_success(METADATA)
        self.outbox.settle(self.worker_id, self._read_result(kind, members, result), now=self.clock())
        return None

    def _unsendable(self, kind: str, create: bool, members: list[EntityBatch], exc: Exception) -> None:
        """A request that could not even be made: alone, the account or visitor fails with the reason; in a group,
        each is sent alone, so that one bad row does not fail the others."""
        if len(members) > 1:
            for member in members:
                if self.stop.is_set() or not self._take_slot(METADATA, self._slot_deadline(self.clock())):
                    self.outbox.settle(self.worker_id, [Settlement(member, outbox.PENDING)])
                else:
                    self._send_group(kind, create, [member])
            return
        reason = f"could not be sent: {type(exc).__name__}: {exc}"
        log.error("metadata values could not be sent: marked failed", exc_info=exc,
                  extra={"kind": kind, "event_id": members[0].event_id})
        self.outbox.settle(self.worker_id, [Settlement(members[0], outbox.FAILED, values={"last_error": reason})])

    def _refused(self, kind: str, members: list[EntityBatch], exc: PendoError) -> None:
        """Settle a metadata request Pendo failed: a pause, a shared wait, or values failed for good."""
        if isinstance(exc, PendoAuthError):
            self.pause(str(exc))
            self.outbox.settle(self.worker_id, [Settlement(b, outbox.PENDING) for b in members])
        elif isinstance(exc, PendoTransient):
            until = self._back_off(METADATA, exc)
            self.outbox.settle(self.worker_id, [self._retry(b, str(exc), until) for b in members])
        else:
            self.alerter.fire(alerts.PERMANENT_FAILURE, "Pendo refused a metadata request: its values failed",
                              kind=kind, rows=len(members), status=exc.status, reason=str(exc),
                              event_id=members[0].event_id if len(members) == 1 else None,
                              sources=sorted({b.source or outbox.WEBHOOKS for b in members}))
            self.outbox.settle(self.worker_id, [
                Settlement(b, outbox.FAILED, values={"last_error": str(exc)}) for b in members])

    def _read_result(self, kind: str, members: list[EntityBatch], result: BulkResult) -> list[Settlement]:
        missing = set(result.missing)
        unknown = result.unknown_fields({name for b in members for name in b.values})
        if unknown:
            self.alerter.fire(alerts.CONFIG_FAULT, "Pendo has no such custom fields: their values are held until "
                              "the fields exist (create them in Pendo, or run `bridge pendo setup`)",
                              kind=kind, fields=sorted(unknown), sources=sorted(
                                  {b.source or outbox.WEBHOOKS for b in members if set(b.values) & unknown}))
        failed = result.failed_ids()
        # Rows that failed together retry together: one jittered delay for all of them.
        retry_at = self.clock() + backoff.delay(max((b.attempts for b in members), default=0) + 1,
                                                self.settings.retry_base_seconds, self.settings.retry_max_seconds)
        settlements = []
        for batch in members:
            held = tuple(f for f in batch.values if f in unknown)
            rest = tuple(f for f in batch.values if f not in unknown)
            if held:
                settlements.append(Settlement(batch, outbox.HELD, held, {"last_error": "field unknown to Pendo"}))
            if not rest:
                continue
            if batch.entity_id in missing:
                settlements.append(self._wait_for_pendo(batch, rest))
            elif held:
                # Pendo refuses a row with an unknown field whole: send the rest again without it.
                settlements.append(Settlement(batch, outbox.PENDING, rest, {"next_attempt_at": self.clock()}))
            elif failed is None or batch.entity_id in failed:
                settlements.append(self._retry(batch, f"Pendo counted {result.failed} rows failed", retry_at, rest))
            else:
                settlements.append(Settlement(batch, outbox.DELIVERED, rest))
        return settlements

    def _wait_for_pendo(self, batch: EntityBatch, fields: tuple[str, ...]) -> Settlement:
        now = self.clock()
        first = batch.first_missing_at or now
        if now - first > self.settings.pendo_missing_window_hours * 3600:
            self.alerter.fire(alerts.PERMANENT_FAILURE, "Pendo still does not know this id after the waiting "
                              "window: values failed", kind=batch.kind, id=batch.entity_id, event_id=batch.event_id,
                              source=batch.source or outbox.WEBHOOKS)
            return Settlement(batch, outbox.FAILED, fields, {"last_error": "id unknown to Pendo"})
        delay = backoff.delay(batch.attempts + 1, self.settings.retry_base_seconds, 3600)
        return Settlement(batch, outbox.WAITING, fields, {
            "first_missing_at": first, "attempts": batch.attempts + 1, "next_attempt_at": now + delay,
            "last_error": "id unknown to Pendo"})

    def _retry(self, batch: EntityBatch, reason: str, retry_at: float,
               fields: tuple[str, ...] | None = None) -> Settlement:
        attempts = batch.attempts + 1
        state = outbox.FAILED if fields is not None and attempts >= MAX_FAILED_ATTEMPTS else outbox.PENDING
        if state == outbox.FAILED:
            self.alerter.fire(alerts.PERMANENT_FAILURE, "Pendo kept counting these values failed: given up",
                              kind=batch.kind, id=batch.entity_id, attempts=attempts, reason=reason,
                              event_id=batch.event_id, source=batch.source or outbox.WEBHOOKS)
        return Settlement(batch, state, fields, {"attempts": attempts, "next_attempt_at": retry_at,
                                                 "last_error": reason})

    def release_held(self) -> None:
        """Held values whose field now exists in Pendo's schema go out again."""
        for kind, fields in self.outbox.held_fields().items():
            try:
                known = set(self.client.get_schema(kind))
            except PendoError:
                return
            released = self.outbox.release_held(kind, fields & known, self.clock())
            if released:
                log.info("held values released: the fields exist in Pendo now", extra={"kind": kind})

    # Track events.
    def send_tracks(self, limit: int | None = None) -> int:
        """Send due track events one per request, a few at a time, each with a budget slot."""
        if not self.settings.track_enabled:
            return 0  # the API's track events wait, pending, for PENDO_TRACK_EVENT_SECRET (the worker warned at start)
        now = self.clock()
        if self._budget.ready_in(TRACK, now) > 0:
            return 0
        # No more than the budget lets out well within a claim's lease, nor in TRACK_STEP_SECONDS: the worker maps
        # between its steps, and a backlog of track events held to the budget (a month-start renewal's invoices)
        # must not keep the accounts' new values waiting to be mapped.
        rate = self.settings.pendo_requests_per_second
        fits = int(rate * self.settings.claim_seconds / 4)
        step = max(self.settings.track_concurrency, int(rate * TRACK_STEP_SECONDS))
        limit = limit or max(1, min(10 * self.settings.track_concurrency, fits, step))
        claimed = self.outbox.claim_tracks(self.worker_id, now, self.settings.claim_seconds, limit)
        if not claimed:
            return 0
        halt = threading.Event()  # set on a transient failure or a pause: the rest go back untouched
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.settings.track_concurrency, thread_name_prefix="bridge-track")
        deadline = self._slot_deadline(now)
        for future in [self._pool.submit(self._track_task, track, halt, deadline) for track in claimed]:
            future.result()
        return len(claimed)

    def probe_tracks(self) -> bool:
        """While track events are held: send the oldest due one; resume them all when Pendo takes it past its
        authentication (delivered, or refused for its own content). True when track events may go on."""
        now = self.clock()
        track = self._claim_probe(now)
        if track is None:
            return False
        if not self._take_slot(TRACK, self._slot_deadline(now)):
            self.outbox.settle_track(track.row_id, self.worker_id, outbox.PENDING)
            return False
        with bound(event_id=track.event_id, request_id=track.request_id):
            if not self._send_track(track):
                return False
        log.info("Pendo accepts the track secret again: track events resume")
        self.store.set_control(TRACK_PAUSE, None, self.clock())
        return True

    def _claim_probe(self, now: float) -> ClaimedTrack | None:
        """The oldest due track event that is still within Pendo's window (older ones are marked expired)."""
        for _ in range(MAX_EXPIRED_PER_PROBE):
            claimed = self.outbox.claim_tracks(self.worker_id, now, self.settings.claim_seconds, 1)
            if not claimed:
                return None
            if not is_expired(claimed[0].timestamp_ms, int(now * 1000)):
                return claimed[0]
            self.outbox.settle_track(claimed[0].row_id, self.worker_id, outbox.EXPIRED)
        return None

    def _track_task(self, track: ClaimedTrack, halt: threading.Event, deadline: float) -> None:
        with bound(event_id=track.event_id, request_id=track.request_id):
            try:
                self._track_step(track, halt, deadline)
            except SQLAlchemyError:
                raise  # the database, not the row: the worker retries the step
            except Exception as exc:  # a row our code cannot send: it fails alone, the others go on
                log.error("track event could not be sent: marked failed", exc_info=exc)
                self.outbox.settle_track(track.row_id, self.worker_id, outbox.FAILED,
                                         last_error=f"could not be sent: {type(exc).__name__}: {exc}")

    def _track_step(self, track: ClaimedTrack, halt: threading.Event, deadline: float) -> None:
        if is_expired(track.timestamp_ms, int(self.clock() * 1000)):
            log.warning("track event older than Pendo's 7-day window: marked expired, not sent")
            self.outbox.settle_track(track.row_id, self.worker_id, outbox.EXPIRED)
        elif halt.is_set() or self.stop.is_set() or not self._take_slot(TRACK, deadline) or halt.is_set():
            self.outbox.settle_track(track.row_id, self.worker_id, outbox.PENDING)
        elif not self._send_track(track):
            halt.set()

    def _send_track(self, track: ClaimedTrack) -> bool:
        """Send one track event and record the outcome; False when the others should not be tried now."""
        try:
            self.client.send_track(track.payload)
        except PendoAuthError as exc:
            self.pause_tracks(str(exc))
            self.outbox.settle_track(track.row_id, self.worker_id, outbox.PENDING)
            return False
        except PendoTransient as exc:
            until = self._back_off(TRACK, exc)
            self.outbox.settle_track(track.row_id, self.worker_id, outbox.PENDING, attempts=track.attempts + 1,
                                     next_attempt_at=until, last_error=str(exc))
            return False
        except PendoError as exc:
            self.alerter.fire(alerts.PERMANENT_FAILURE, "Pendo refused a track event: it failed",
                              status=exc.status, reason=str(exc), event_id=track.event_id,
                              source=track.source or outbox.WEBHOOKS)
            self.outbox.settle_track(track.row_id, self.worker_id, outbox.FAILED, last_error=str(exc))
            return True
        self._budget.record_success(TRACK)
        self.outbox.settle_track(track.row_id, self.worker_id, outbox.DELIVERED, delivered_at=self.clock())
        return True
