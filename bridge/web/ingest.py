"""Group commit for webhooks: requests that arrive while a commit is on its way share the next one.

Each acknowledgement still waits for its own event's commit (durable: SQLite `synchronous=FULL`), but under
load one disk sync serves many webhooks instead of one each. The first request to find no commit in
progress leads: it commits everything queued and wakes the others. No thread of its own, so it is safe
in gunicorn's forked workers.

One event must not fail the others: when a shared commit fails for any reason but an unreachable database,
its events are committed one by one and only the one at fault fails. Whatever the leader runs into, it wakes
every waiter and hands the lead on, so one failure never wedges ingest.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bridge.errors import StoreUnavailable
from bridge.store.db import LOCK_WAIT_SECONDS
from bridge.store.store import Incoming, Store

log = logging.getLogger("bridge.ingest")

# A commit running longer than this is stuck (readiness says so): SQLite waits up to LOCK_WAIT_SECONDS for its
# write lock, and a commit takes milliseconds once it has it.
STUCK_COMMIT_SECONDS = LOCK_WAIT_SECONDS + 15.0


@dataclass(eq=False)
class _Waiting:
    incoming: Incoming
    done: bool = False  # set under the lock: the waiter may go
    settled: bool = False  # the outcome below is known
    duplicate: bool = False
    error: Exception | None = None

    def settle(self, duplicate: bool = False, error: Exception | None = None) -> None:
        self.duplicate, self.error, self.settled = duplicate, error, True


@dataclass
class GroupCommit:
    """Commits incoming events in shared transactions."""

    store: Store
    clock: Callable[[], float] = time.monotonic
    _pending: list[_Waiting] = field(default_factory=list)
    _committing_since: float | None = None
    _ready: threading.Condition = field(default_factory=threading.Condition)

    def ingest(self, incoming: Incoming) -> bool:
        """Store one event; return True if it was a duplicate.

        Raises StoreUnavailable (the database cannot commit), EventRefused (it refuses this event's values), or
        whatever else storing this event alone raised.
        """
        mine = _Waiting(incoming)
        with self._ready:
            self._pending.append(mine)
            while self._committing_since is not None and not mine.done:
                self._ready.wait()
            if not mine.done:
                self._committing_since = self.clock()
                batch, self._pending = self._pending, []  # holds `mine`; bounded by the server's threads
        if not mine.done:
            self._lead(batch)
        if mine.error is not None:
            raise mine.error
        return mine.duplicate

    def commit_age(self) -> float:
        """How long the commit in progress has been running; 0 when none is."""
        since = self._committing_since
        return 0.0 if since is None else max(self.clock() - since, 0.0)

    def stuck(self) -> bool:
        """True while a commit has been running for longer than STUCK_COMMIT_SECONDS."""
        return self.commit_age() > STUCK_COMMIT_SECONDS

    def _lead(self, batch: list[_Waiting]) -> None:
        try:
            self._commit(batch)
        finally:
            with self._ready:
                for waiting in batch:
                    if not waiting.settled:  # `_commit` itself failed: the leader raises, the others retry
                        waiting.settle(error=StoreUnavailable("the shared commit was abandoned"))
                    waiting.done = True
                self._committing_since = None
                self._ready.notify_all()

    def _commit(self, batch: list[_Waiting]) -> None:
        try:
            duplicates = self.store.ingest_many([w.incoming for w in batch])
        except StoreUnavailable as exc:
            for waiting in batch:  # the database, not an event: everyone retries
                waiting.settle(error=exc)
            return
        except Exception as exc:
            if len(batch) == 1:
                batch[0].settle(error=exc)
                return
            log.warning("a shared commit failed: its events are committed one by one",
                        extra={"events": len(batch), "error": type(exc).__name__})
            for waiting in batch:
                self._commit([waiting])
            return
        for waiting, duplicate in zip(batch, duplicates, strict=True):
            waiting.settle(duplicate=duplicate)
