"""Group commit: requests that arrive while a commit is on its way share the next one.

Each caller still waits for its own item's commit (durable: SQLite `synchronous=FULL`, a PostgreSQL COMMIT),
but under load one disk sync serves many requests instead of one each. The first caller to find no commit in
progress leads: it commits everything queued and wakes the others. No thread of its own, so it is safe in
gunicorn's forked workers.

Wake-ups are targeted: a finished commit wakes the callers it served, and hands the lead to the first caller queued
meanwhile, which commits everything queued by the time it starts. The others sleep on. (Waking every waiter on every
commit cost more than the commit's own work once a server ran more threads than a batch held.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from bridge.errors import StoreUnavailable

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(eq=False)
class _Waiting(Generic[Item, Result]):
    item: Item
    turn: threading.Event = field(default_factory=threading.Event)  # set: settled, or this caller leads next
    done: bool = False
    result: Result | None = None
    error: StoreUnavailable | None = None


class GroupCommit(Generic[Item, Result]):
    """Hands queued items to `commit` (one transaction for all, one result each, or StoreUnavailable)."""

    def __init__(self, commit: Callable[[Sequence[Item]], list[Result]],
                 clock: Callable[[], float] = time.monotonic):
        self._commit_all, self._clock = commit, clock
        self._pending: list[_Waiting[Item, Result]] = []
        self._committing_since: float | None = None
        self._lock = threading.Lock()

    def submit(self, item: Item) -> Result:
        """Store one item with whatever else is queued; its result, or StoreUnavailable. An exception `commit`
        raises other than StoreUnavailable reaches the caller that led that commit; the others of it get
        StoreUnavailable."""
        mine: _Waiting[Item, Result] = _Waiting(item)
        with self._lock:
            self._pending.append(mine)
            leading = self._committing_since is None
            if leading:
                self._committing_since = self._clock()
        if not leading:
            mine.turn.wait()
        if not mine.done:  # this caller leads: no commit was running, or the last one handed the lead on
            self._lead()
        if mine.error is not None:
            raise mine.error
        return mine.result  # type: ignore[return-value]  # a Result once done without an error

    def commit_age(self) -> float:
        """How long the commit in progress has been running; 0 when none is."""
        since = self._committing_since
        return 0.0 if since is None else max(self._clock() - since, 0.0)

    def _lead(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []  # holds the leader; bounded by the server's threads
            self._committing_since = self._clock()
        results: list[Result | None] = [None] * len(batch)
        error: StoreUnavailable | None = StoreUnavailable("the shared commit was abandoned")
        try:
            results, error = list(self._commit_all([w.item for w in batch])), None
        except StoreUnavailable as exc:
            error = exc
        finally:  # whatever happened, every caller of this commit is released and the lead passes on
            with self._lock:
                for waiting, result in zip(batch, results, strict=True):
                    waiting.done, waiting.result, waiting.error = True, result, error
                    waiting.turn.set()
                if self._pending:
                    self._pending[0].turn.set()
                else:
                    self._committing_since = None
