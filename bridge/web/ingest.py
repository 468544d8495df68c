"""Group commit for webhooks: requests that arrive while a commit is on its way share the next one.

Each acknowledgement still waits for its own event's commit (durable: SQLite `synchronous=FULL`), but under
load one disk sync serves many webhooks instead of one each. The first request to find no commit in
progress leads: it commits everything queued and wakes the others. No thread of its own, so it is safe
in gunicorn's forked workers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from bridge.errors import StoreUnavailable
from bridge.store.store import Incoming, Store


@dataclass(eq=False)
class _Waiting:
    incoming: Incoming
    done: bool = False
    duplicate: bool = False
    error: StoreUnavailable | None = None


@dataclass
class GroupCommit:
    """Commits incoming events in shared transactions."""

    store: Store
    _pending: list[_Waiting] = field(default_factory=list)
    _committing: bool = False
    _ready: threading.Condition = field(default_factory=threading.Condition)

    def ingest(self, incoming: Incoming) -> bool:
        """Store one event; return True if it was a duplicate. Raises StoreUnavailable."""
        mine = _Waiting(incoming)
        with self._ready:
            self._pending.append(mine)
            while self._committing and not mine.done:
                self._ready.wait()
            if not mine.done:
                self._committing = True
                batch, self._pending = self._pending, []  # holds `mine`; bounded by the server's threads
        if not mine.done:
            self._commit(batch)
        if mine.error is not None:
            raise mine.error
        return mine.duplicate

    def _commit(self, batch: list[_Waiting]) -> None:
        try:
            duplicates = self.store.ingest_many([w.incoming for w in batch])
            error = None
        except StoreUnavailable as exc:
            duplicates, error = [False] * len(batch), exc
        with self._ready:
            for waiting, duplicate in zip(batch, duplicates, strict=True):
                waiting.done, waiting.duplicate, waiting.error = True, duplicate, error
            self._committing = False
            self._ready.notify_all()
