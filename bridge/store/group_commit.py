"""Group commit: requests that arrive while a commit is on its way share the next one.

Each caller still waits for its own item's commit (durable: SQLite `synchronous=FULL`, a PostgreSQL COMMIT),
but under load one disk sync serves many requests instead of one each. The first caller to find no commit in
progress leads: it commits everything queued and wakes the others. No thread of its own, so it is safe in
gunicorn's forked workers. (The webhooks' `bridge.web.ingest` works the same way.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from bridge.errors import StoreUnavailable

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(eq=False)
class _Waiting(Generic[Item, Result]):
    item: Item
    done: bool = False
    result: Result | None = None
    error: StoreUnavailable | None = None


class GroupCommit(Generic[Item, Result]):
    """Hands queued items to `commit` (one transaction for all, one result each, or StoreUnavailable)."""

    def __init__(self, commit: Callable[[Sequence[Item]], list[Result]]):
        self._commit_all = commit
        self._pending: list[_Waiting[Item, Result]] = []
        self._committing = False
        self._ready = threading.Condition()

    def submit(self, item: Item) -> Result:
        """Store one item with whatever else is queued; its result, or StoreUnavailable."""
        mine: _Waiting[Item, Result] = _Waiting(item)
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
        assert mine.result is not None
        return mine.result

    def _commit(self, batch: list[_Waiting[Item, Result]]) -> None:
        results: list[Result | None]
        try:
            results, error = list(self._commit_all([w.item for w in batch])), None
        except StoreUnavailable as exc:
            results, error = [None] * len(batch), exc
        except BaseException:
            results, error = [None] * len(batch), StoreUnavailable("the commit failed")
            raise
        finally:
            with self._ready:
                for waiting, result in zip(batch, results, strict=True):
                    waiting.done, waiting.result, waiting.error = True, result, error
                self._committing = False
                self._ready.notify_all()
