"""Stores the API's requests straight into the outbox, several requests per commit.

One transaction per group of requests (`bridge.store.group_commit`): for each request, a slot from its key's
pace (which also refuses a key revoked meanwhile), then its rows — track events with a dedupe key made of the
key's name and the event's `messageId`, metadata values through the outbox's ordering guard — then the keys'
counters. The answer goes out after the commit. From there the worker's delivery, request budget, retries and
pause apply as to anything the webhooks brought.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from bridge.errors import StoreUnavailable
from bridge.mapping.operations import MetadataUpdate
from bridge.pendo import changes, outbox
from bridge.store import keys
from bridge.store.group_commit import GroupCommit
from bridge.web.api_bodies import TrackRow

STORED, LIMITED, REVOKED = "stored", "limited", "revoked"
TRACK_RULE = "api"  # the `rule` of track events the API stored (the mapper's rows carry their rule's name)


@dataclass(frozen=True)
class Submission:
    """One request's rows, from one key."""

    key: str
    request_id: str
    track: Sequence[TrackRow] = ()
    metadata: Sequence[MetadataUpdate] = ()


@dataclass(frozen=True)
class Outcome:
    """What became of a submission."""

    status: str
    accepted: int = 0
    duplicates: int = 0
    retry_after: float = 0.0


@dataclass
class _Tally:
    counts: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def add(self, key: str, **deltas: int) -> None:
        for name, delta in deltas.items():
            self.counts[key][name] += delta


def track_event_id(key: str, message_id: str | None) -> str:
    """The dedupe key of an API track event: the same messageId from the same key is stored once."""
    return f"{key}:{message_id}" if message_id is not None else f"{key}:~{uuid.uuid4().hex}"


class ApiIngest:
    """Commits submissions in shared transactions."""

    def __init__(self, engine: Engine, pace: keys.Pace, clock: Callable[[], float] = time.time):
        self.engine, self.pace, self.clock = engine, pace, clock
        self._group: GroupCommit[Submission, Outcome] = GroupCommit(self._commit)

    def submit(self, submission: Submission) -> Outcome:
        """Store one request's rows; StoreUnavailable when the database cannot commit."""
        return self._group.submit(submission)

    def _commit(self, batch: Sequence[Submission]) -> list[Outcome]:
        try:
            with self.engine.begin() as connection:
                return self._write(connection, batch, self.clock())
        except SQLAlchemyError as exc:
            raise StoreUnavailable("the API's rows could not be committed") from exc

    def _write(self, connection: Connection, batch: Sequence[Submission], now: float) -> list[Outcome]:
        """Rows are locked in one order by every transaction (key rows by name, then field values by key), so two
        web processes, or a web process and a worker, never wait on each other in a circle."""
        outcomes: dict[int, Outcome] = {}
        tally, fields = _Tally(), []
        for index in sorted(range(len(batch)), key=lambda i: batch[i].key):
            item = batch[index]
            refused = self._pace(connection, item, now, tally)
            if refused is not None:
                outcomes[index] = refused
                continue
            if item.track:
                accepted = self._track(connection, item, now)
            else:
                accepted, rows = self._metadata(connection, item, now)
                fields += rows
            total = len(item.track) + len(item.metadata)
            tally.add(item.key, accepted=accepted, duplicates=total - accepted)
            outcomes[index] = Outcome(STORED, accepted, total - accepted)
        outbox.enqueue_fields(connection, fields)
        for key, counts in sorted(tally.counts.items()):
            keys.count(connection, key, **counts)
        return [outcomes[index] for index in range(len(batch))]

    def _pace(self, connection: Connection, item: Submission, now: float, tally: _Tally) -> Outcome | None:
        """None when the key may send now; else the refusal (over its pace, or revoked meanwhile)."""
        if keys.take_slot(connection, item.key, now, self.pace):
            return None
        wait = keys.wait_for_slot(connection, item.key, now, self.pace)
        if wait is None:
            return Outcome(REVOKED)
        tally.add(item.key, limited=1)
        return Outcome(LIMITED, retry_after=wait)

    @staticmethod
    def _track(connection: Connection, item: Submission, now: float) -> int:
        rows = [outbox.track_row(track_event_id(item.key, row.message_id), TRACK_RULE, row.payload,
                                 row.timestamp_ms, None, now, source=item.key) for row in item.track]
        return outbox.enqueue_tracks(connection, rows)

    @staticmethod
    def _metadata(connection: Connection, item: Submission, now: float) -> tuple[int, list[dict[str, Any]]]:
        """The number of entries that change something (the rest are duplicates), and the rows to write."""
        incoming = changes.newest(item.metadata)
        changed = changes.changes(incoming, changes.stored(connection, {(u.kind, u.id) for u in item.metadata}))
        accepted = sum(1 for u in item.metadata if any((u.kind, u.id, name) in changed for name in u.values))
        return accepted, changes.rows(incoming, f"{item.key}:{item.request_id}", now, item.key)
