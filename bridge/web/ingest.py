"""Group commit for webhooks: requests that arrive while a commit is on its way share the next one.

Each acknowledgement still waits for its own event's commit (durable: SQLite `synchronous=FULL`), but under
load one disk sync serves many webhooks instead of one each (`bridge.store.group_commit`).

One event must not fail the others: when a shared commit fails for any reason but an unreachable database,
its events are committed one by one and only the one at fault fails. Whatever the leader runs into, it wakes
every waiter and hands the lead on, so one failure never wedges ingest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from bridge.errors import StoreUnavailable
from bridge.store import group_commit
from bridge.store.db import LOCK_WAIT_SECONDS
from bridge.store.store import Incoming, Store

log = logging.getLogger("bridge.ingest")

# A commit running longer than this is stuck (readiness says so): SQLite waits up to LOCK_WAIT_SECONDS for its
# write lock, and a commit takes milliseconds once it has it.
STUCK_COMMIT_SECONDS = LOCK_WAIT_SECONDS + 15.0

Stored = bool | Exception  # a duplicate or not; or why this event alone could not be stored


class GroupCommit:
    """Commits incoming events in shared transactions."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.monotonic):
        self.store = store
        self._group: group_commit.GroupCommit[Incoming, Stored] = group_commit.GroupCommit(self._commit, clock)

    def ingest(self, incoming: Incoming) -> bool:
        """Store one event; return True if it was a duplicate.

        Raises StoreUnavailable (the database cannot commit), EventRefused (it refuses this event's values), or
        whatever else storing this event alone raised.
        """
        stored = self._group.submit(incoming)
        if isinstance(stored, Exception):
            raise stored
        return stored

    def commit_age(self) -> float:
        """How long the commit in progress has been running; 0 when none is."""
        return self._group.commit_age()

    def stuck(self) -> bool:
        """True while a commit has been running for longer than STUCK_COMMIT_SECONDS."""
        return self.commit_age() > STUCK_COMMIT_SECONDS

    def _commit(self, batch: Sequence[Incoming]) -> list[Stored]:
        try:
            return list(self.store.ingest_many(batch))
        except StoreUnavailable:
            raise  # the database, not an event: everyone retries
        except Exception as exc:
            if len(batch) == 1:
                return [exc]
            log.warning("a shared commit failed: its events are committed one by one",
                        extra={"events": len(batch), "error": type(exc).__name__})
            return [self._commit([incoming])[0] for incoming in batch]
