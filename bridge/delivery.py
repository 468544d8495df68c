"""Sends the outbox to Pendo and reads Pendo's answer per row.

- A 401/403 is deployment-wide (wrong key, read-only key, wrong region): all sending pauses, rows stay
  pending, one error line is logged, and sending resumes once the token verifies again.
- Ids Pendo reports missing wait (`waiting_for_pendo`) for the configured window: a new customer often
  pays before Pendo has seen their account.
- A field Pendo does not know is a configuration fault: its values are held, not failed, and released
  when the field appears in Pendo's schema.
- Transient failures retry with exponential backoff and jitter, the attempt count stored in the row.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from bridge import backoff, outbox
from bridge.errors import PendoAuthError, PendoError, PendoTransient
from bridge.outbox import ClaimedTrack, EntityBatch, Outbox, Settlement
from bridge.pendo import BulkResult, PendoClient, is_expired
from bridge.settings import Settings
from bridge.store import Store

log = logging.getLogger("bridge.delivery")

PAUSE = "pendo_paused"
MAX_FAILED_ATTEMPTS = 10  # rows Pendo counts failed without saying why


@dataclass
class Delivery:
    """One worker's sending side."""

    settings: Settings
    store: Store
    outbox: Outbox
    client: PendoClient
    worker_id: str
    clock: Callable[[], float]
    batch_size: int = 500

    def paused(self) -> str | None:
        return self.store.control(PAUSE)

    def pause(self, reason: str) -> None:
        if self.paused() is None:
            log.error("Pendo refused the credentials: all sending is paused until the key verifies again",
                      extra={"reason": reason})
        self.store.set_control(PAUSE, reason, self.clock())

    def try_resume(self) -> bool:
        """Verify the integration key; clear the pause when it is valid and can write."""
        try:
            status = self.client.verify_token()
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
        now = self.clock()
        batches = self.outbox.claim_entities(self.worker_id, now, self.settings.claim_seconds, self.batch_size)
        groups: dict[tuple[str, bool], list[EntityBatch]] = defaultdict(list)
        for batch in batches:
            groups[(batch.kind, batch.create)].append(batch)
        for (kind, create), members in groups.items():
            self._send_group(kind, create, members)
        return len(batches)

    def _send_group(self, kind: str, create: bool, members: list[EntityBatch]) -> None:
        try:
            result = self.client.send_metadata(kind, [(b.entity_id, b.values) for b in members], create=create)
        except PendoAuthError as exc:
            self.pause(str(exc))
            self.outbox.settle(self.worker_id, [Settlement(b, outbox.PENDING) for b in members])
            return
        except PendoTransient as exc:
            self.outbox.settle(self.worker_id, [self._retry(b, str(exc), exc.retry_after) for b in members])
            return
        except PendoError as exc:
            log.error("Pendo refused a metadata request", extra={"kind": kind, "rows": len(members),
                                                                  "reason": str(exc)})
            self.outbox.settle(self.worker_id, [
                Settlement(b, outbox.FAILED, values={"last_error": str(exc)}) for b in members])
            return
        self.outbox.settle(self.worker_id, self._read_result(kind, members, result))

    def _read_result(self, kind: str, members: list[EntityBatch], result: BulkResult) -> list[Settlement]:
        missing = set(result.missing)
        unknown = result.unknown_fields({name for b in members for name in b.values})
        if unknown:
            log.error("Pendo has no such custom fields: their values are held until the fields exist "
                      "(create them in Pendo, or run `bridge pendo setup`)",
                      extra={"kind": kind, "fields": sorted(unknown)})
        failed = result.failed_ids()
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
                settlements.append(self._retry(batch, f"Pendo counted {result.failed} rows failed", None, rest))
            else:
                settlements.append(Settlement(batch, outbox.DELIVERED, rest))
        return settlements

    def _wait_for_pendo(self, batch: EntityBatch, fields: tuple[str, ...]) -> Settlement:
        now = self.clock()
        first = batch.first_missing_at or now
        if now - first > self.settings.pendo_missing_window_hours * 3600:
            log.error("Pendo still does not know this id after the waiting window: values failed",
                      extra={"kind": batch.kind, "id": batch.entity_id})
            return Settlement(batch, outbox.FAILED, fields, {"last_error": "id unknown to Pendo"})
        delay = backoff.delay(batch.attempts + 1, self.settings.retry_base_seconds, 3600)
        return Settlement(batch, outbox.WAITING, fields, {
            "first_missing_at": first, "attempts": batch.attempts + 1, "next_attempt_at": now + delay,
            "last_error": "id unknown to Pendo"})

    def _retry(self, batch: EntityBatch, reason: str, retry_after: float | None,
               fields: tuple[str, ...] | None = None) -> Settlement:
        attempts = batch.attempts + 1
        state = outbox.FAILED if fields is not None and attempts >= MAX_FAILED_ATTEMPTS else outbox.PENDING
        delay = backoff.delay(attempts, self.settings.retry_base_seconds, self.settings.retry_max_seconds)
        return Settlement(batch, state, fields, {
            "attempts": attempts, "next_attempt_at": self.clock() + max(delay, retry_after or 0.0),
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
    def send_tracks(self, limit: int = 50) -> int:
        now = self.clock()
        claimed = self.outbox.claim_tracks(self.worker_id, now, self.settings.claim_seconds, limit)
        for index, track in enumerate(claimed):
            if not self._send_track(track):
                for rest in claimed[index + 1:]:
                    self.outbox.settle_track(rest.row_id, self.worker_id, outbox.PENDING)
                break
        return len(claimed)

    def _send_track(self, track: ClaimedTrack) -> bool:
        now = self.clock()
        if is_expired(track.timestamp_ms, int(now * 1000)):
            log.warning("track event older than Pendo's 7-day window: marked expired, not sent")
            self.outbox.settle_track(track.row_id, self.worker_id, outbox.EXPIRED)
            return True
        try:
            self.client.send_track(track.payload)
        except PendoAuthError as exc:
            self.pause(f"track events: {exc} (check PENDO_TRACK_EVENT_SECRET)")
            self.outbox.settle_track(track.row_id, self.worker_id, outbox.PENDING)
            return False
        except PendoTransient as exc:
            delay = backoff.delay(track.attempts + 1, self.settings.retry_base_seconds,
                                  self.settings.retry_max_seconds)
            self.outbox.settle_track(track.row_id, self.worker_id, outbox.PENDING, attempts=track.attempts + 1,
                                     next_attempt_at=now + max(delay, exc.retry_after or 0.0),
                                     last_error=str(exc))
            return False
        except PendoError as exc:
            log.error("Pendo refused a track event", extra={"reason": str(exc)})
            self.outbox.settle_track(track.row_id, self.worker_id, outbox.FAILED, last_error=str(exc))
            return True
        self.outbox.settle_track(track.row_id, self.worker_id, outbox.DELIVERED, delivered_at=now)
        return True
