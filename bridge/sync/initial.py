"""`bridge sync <provider>`: every subscription's current state, written through the webhook path.

The provider's list API (`source(config)` of its package) yields pages of raw subscriptions and, after each, a
cursor to resume from. Each subscription becomes a synthetic event of its provider (`bridge_sync: true`) whose
time is the moment its page was asked for: the worker maps it with the normal mappings (metadata only, no track
events) and the outbox's ordering guard decides between it and webhooks, so a sync is safe while webhooks flow.
The cursor (run id, the page's cursor) is kept in `controls` after each page: an interrupted run continues where
it stopped (so does one told to stop, checked between pages). `--dry-run` evaluates the mappings in memory and
prints what would change; `--reconcile` stores as usual and reports how many delivered values the sync corrects.

What a source may offer beyond `SubscriptionSource` (docs/providers/README.md): `snapshot(raw, run_id, asked_at)`
(the synthetic event in the shape its webhooks have, the enrichment the page carries, the objects to cache),
`requests` (how many requests it made) and `sleep` (how it waits out a rate limit; a reconcile cuts it short on
a stop). Without `snapshot` a subscription becomes a neutral `subscription.synced` event whose `data` is the raw
subscription (the shape of notifications whose `data` is the entity), its customer read through the package's
`subscription(raw)`.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select

from bridge.mapping import MappingSet, evaluate
from bridge.mapping.operations import MetadataUpdate
from bridge.ops.progress import Progress
from bridge.pendo import client as pendo
from bridge.providers import Event, registry
from bridge.providers.base import SubscriptionSource
from bridge.settings import Settings
from bridge.store.db import reading
from bridge.store.schema import field_values
from bridge.store.store import Incoming, Store
from bridge.web.triage import RECEIVED, triage
from bridge.worker import enrichment
from bridge.worker.mapper import eval_options

log = logging.getLogger("bridge.sync")

NEUTRAL_TYPE = "subscription.synced"  # the synthetic event's type when the source has no `snapshot`
CHANGES_SHOWN = 20  # changed fields a reconcile prints or logs; the counts cover them all

FieldKey = tuple[str, str, str]  # kind, entity id, field


def cursor_control(provider: str) -> str:
    """The `controls` row holding an interrupted sync's cursor."""
    return f"{provider}_sync_cursor"


def last_run_control(provider: str) -> str:
    """The `controls` row holding the last finished sync's report."""
    return f"{provider}_sync_last"


@dataclass(frozen=True)
class Snapshot:
    """One listed subscription as the sync stores it."""

    event: Event
    enrichment: Mapping[str, Any] = field(default_factory=dict)  # what the page carried (an expanded customer)
    objects: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # to cache, by id


@dataclass
class SyncReport:
    """What a sync saw and did; `changes` are the field values that differ from the stored ones."""

    run_id: str
    provider: str = ""
    resumed_after: str | None = None
    subscriptions: int = 0
    queued: int = 0
    duplicates: int = 0
    ignored: int = 0
    unresolved: int = 0
    requests: int = 0
    accounts: set[str] = field(default_factory=set)
    changes: dict[FieldKey, tuple[Any, Any]] = field(default_factory=dict)
    stopped: bool = False  # told to stop between pages: the cursor is kept for the next run

    def summary(self) -> dict[str, Any]:
        entities = {(kind, entity) for kind, entity, _ in self.changes}
        return {"provider": self.provider, "run_id": self.run_id, "resumed_after": self.resumed_after,
                "subscriptions": self.subscriptions, "accounts": len(self.accounts), "events_queued": self.queued,
                "duplicates": self.duplicates, "ignored": self.ignored, "unresolved": self.unresolved,
                "api_requests": self.requests, "fields_changed": len(self.changes),
                "entities_changed": len(entities)}


def neutral_snapshot(provider: str, raw: Mapping[str, Any], run_id: str, asked_at: float) -> Snapshot:
    """A subscription as a neutral synthetic event, for a source without a `snapshot` of its own."""
    created = int(asked_at)
    event_id = f"sync_{run_id}_{raw['id']}"
    payload = {"id": event_id, "type": NEUTRAL_TYPE, "created": created, "data": dict(raw), "bridge_sync": True}
    return Snapshot(Event(provider=provider, id=event_id, type=NEUTRAL_TYPE, created=float(created), livemode=None,
                          api_version=None, connect_account=None, customer_id=_customer_of(provider, raw),
                          payload=payload))


def _customer_of(provider: str, raw: Mapping[str, Any]) -> str | None:
    """The subscription's customer, as its package reads it (None when it cannot)."""
    read = getattr(registry.package(provider), "subscription", None)
    found = read(raw) if read is not None else None
    return found.customer_id if found is not None else None


@dataclass
class Sync:
    """One sync of a provider's subscriptions into the store."""

    settings: Settings
    store: Store
    provider: str
    source: SubscriptionSource
    mappings: MappingSet  # identity and the comparison (dry run, reconcile) come from evaluating them
    clock: Callable[[], float] = time.time
    progress: Progress | None = None
    should_stop: Callable[[], bool] = lambda: False  # asked after each stored page

    def run(self, dry_run: bool = False, restart: bool = False, compare: bool = False) -> SyncReport:
        cursor = None if dry_run or restart else self._cursor()
        report = SyncReport(cursor["run_id"] if cursor else uuid.uuid4().hex[:12], self.provider,
                            resumed_after=cursor["after"] if cursor else None)
        if cursor:
            log.info("resuming an interrupted sync", extra={"provider": self.provider, "run_id": report.run_id,
                                                             "after": report.resumed_after})
        pages = iter(self.source.subscriptions(report.resumed_after))
        while (page := self._next(pages)) is not None:
            (items, after), asked_at = page
            found = [self._snapshot(raw, report.run_id, asked_at) for raw in items]
            self._evaluate(found, report, compare=dry_run or compare)
            if not dry_run:
                self._store_page(found, after, report)
            report.subscriptions += len(items)
            report.requests = int(getattr(self.source, "requests", 0))
            if self.progress:
                self.progress.update(subscriptions=report.subscriptions, accounts=len(report.accounts),
                                     queued=report.queued, requests=report.requests)
            if after is not None and self.should_stop():
                report.stopped = True
                break
        if self.progress:
            self.progress.finish()
        if not dry_run and not report.stopped:
            self.store.set_control(cursor_control(self.provider), None, self.clock())
            self.store.set_control(last_run_control(self.provider),
                                   json.dumps({**report.summary(), "finished_at": self.clock()}), self.clock())
        return report

    def _next(self, pages: Any) -> tuple[Any, float] | None:
        """The next page and the time just before it was asked for (the snapshots' event time)."""
        asked_at = self.clock()
        page = next(pages, None)
        return None if page is None else (page, asked_at)

    def _snapshot(self, raw: Mapping[str, Any], run_id: str, asked_at: float) -> Snapshot:
        own = getattr(self.source, "snapshot", None)
        found = own(raw, run_id, asked_at) if own is not None else neutral_snapshot(self.provider, raw, run_id,
                                                                                      asked_at)
        # a named source's snapshots are keyed as its webhooks are (`<name>/<source>`); the package knows only its name
        return found if found.event.provider == self.provider \
            else replace(found, event=replace(found.event, provider=self.provider))

    def _cursor(self) -> dict[str, Any] | None:
        raw = self.store.control(cursor_control(self.provider))
        return json.loads(raw) if raw else None

    def _store_page(self, found: list[Snapshot], after: str | None, report: SyncReport) -> None:
        """Objects first (so the worker resolves identity from the cache), then the events, then the cursor."""
        now = self.clock()
        self.store.cache_objects(self.provider, {key: value for each in found for key, value in each.objects.items()},
                                 now)
        config = self.settings.providers[self.provider]  # a sync runs only for a configured provider
        incoming = [Incoming(each.event, now, *triage(each.event, config), None, f"sync_{report.run_id}")
                    for each in found]
        duplicates = self.store.ingest_many(incoming) if incoming else []
        for item, duplicate in zip(incoming, duplicates, strict=True):
            report.duplicates += duplicate
            report.queued += not duplicate and item.status == RECEIVED
            report.ignored += not duplicate and item.status != RECEIVED
        if after is not None:
            cursor = {"run_id": report.run_id, "after": after, "subscriptions": report.subscriptions + len(found)}
            self.store.set_control(cursor_control(self.provider), json.dumps(cursor), now)

    def _enrichment(self, snapshot: Snapshot) -> Mapping[str, Any]:
        if snapshot.enrichment:
            return snapshot.enrichment
        return enrichment.cached(self.store).enrich(snapshot.event, fetch=False)

    def _evaluate(self, found: Iterable[Snapshot], report: SyncReport, compare: bool) -> None:
        """Evaluate in memory: the accounts the page resolves to and, to compare, every field value that differs
        from the stored one."""
        options = replace(eval_options(self.settings), track_enabled=False)
        wanted: dict[FieldKey, Any] = {}
        for snapshot in found:
            outcome = evaluate(self.mappings, snapshot.event, self._enrichment(snapshot), options)
            report.unresolved += bool(outcome.unresolved)
            for op in outcome.operations:
                if isinstance(op, MetadataUpdate):
                    if op.kind == "account":
                        report.accounts.add(op.id)
                    if compare:
                        values, _ = pendo.metadata_values(op.values)
                        wanted.update({(op.kind, op.id, name): value for name, value in values.items()})
        stored = self._stored_values({(kind, entity) for kind, entity, _ in wanted})
        for key, value in wanted.items():
            before = stored.get(key, _MISSING)
            if before is _MISSING or before != json.dumps(value, sort_keys=True):
                report.changes[key] = (None if before is _MISSING else json.loads(str(before)), value)

    def _stored_values(self, entities: set[tuple[str, str]]) -> dict[FieldKey, object]:
        ids = sorted({entity for _, entity in entities})
        found: dict[FieldKey, object] = {}
        with reading(self.store.engine) as connection:
            for start in range(0, len(ids), 500):
                rows = connection.execute(
                    select(field_values.c.kind, field_values.c.entity_id, field_values.c.field,
                           field_values.c.value).where(field_values.c.entity_id.in_(ids[start:start + 500])))
                found.update({(r[0], r[1], r[2]): r[3] for r in rows if (r[0], r[1]) in entities})
        return found


_MISSING = object()


def describe_changes(changes: dict[FieldKey, tuple[Any, Any]]) -> Iterable[str]:
    """One line per changed field, grouped by account/visitor."""
    for (kind, entity, name), (before, after) in sorted(changes.items()):
        shown = "(not set)" if before is None else json.dumps(before)
        yield f"{kind} {entity}: {name}: {shown} -> {json.dumps(after)}"
