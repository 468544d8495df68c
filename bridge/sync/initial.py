"""`bridge sync stripe`: every subscription's current state, written through the webhook path.

Each subscription becomes a synthetic `customer.subscription.updated` event (`bridge_sync: true`) whose time
is the moment its page was asked for: the worker maps it with the normal mappings (metadata only, no track
events) and the outbox's ordering guard decides between it and webhooks, so a sync is safe while webhooks
flow. The cursor (run id, last subscription of the last stored page) is kept in `controls` after each page:
an interrupted run continues where it stopped (so does one told to stop, checked between pages). `--dry-run`
evaluates the mappings in memory and prints what would change; `--reconcile` stores as usual and reports how
many delivered values the sync corrects.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select

from bridge.mapping import MappingSet, evaluate
from bridge.mapping.operations import MetadataUpdate
from bridge.ops.progress import Progress
from bridge.pendo import client as pendo
from bridge.providers import Event
from bridge.providers.stripe import billing as stripe_billing
from bridge.providers.stripe.api import Page, StripeApi, api_version
from bridge.providers.stripe.webhook import customer_of
from bridge.settings import Settings
from bridge.store.db import reading
from bridge.store.schema import field_values
from bridge.store.store import Incoming, Store
from bridge.web.triage import RECEIVED, triage
from bridge.worker.mapper import eval_options

log = logging.getLogger("bridge.sync")

PROVIDER = "stripe"
CURSOR = "stripe_sync_cursor"
LAST_RUN = "stripe_sync_last"
EVENT_TYPE = "customer.subscription.updated"
LIST_PARAMS = {"status": "all", "expand": ["data.customer"]}
CHANGES_SHOWN = 20  # changed fields a reconcile prints or logs; the counts cover them all

FieldKey = tuple[str, str, str]  # kind, entity id, field


@dataclass
class SyncReport:
    """What a sync saw and did; `changes` are the field values that differ from the stored ones."""

    run_id: str
    resumed_after: str | None = None
    subscriptions: int = 0
    queued: int = 0
    duplicates: int = 0
    ignored: int = 0
    unresolved: int = 0
    stripe_requests: int = 0
    accounts: set[str] = field(default_factory=set)
    changes: dict[FieldKey, tuple[Any, Any]] = field(default_factory=dict)
    stopped: bool = False  # told to stop between pages: the cursor is kept for the next run

    def summary(self) -> dict[str, Any]:
        entities = {(kind, entity) for kind, entity, _ in self.changes}
        return {"run_id": self.run_id, "resumed_after": self.resumed_after, "subscriptions": self.subscriptions,
                "accounts": len(self.accounts), "events_queued": self.queued, "duplicates": self.duplicates,
                "ignored": self.ignored, "unresolved": self.unresolved, "stripe_requests": self.stripe_requests,
                "fields_changed": len(self.changes), "entities_changed": len(entities)}


def snapshot_event(sub: dict[str, Any], run_id: str, asked_at: float,
                   version: str) -> tuple[Event, dict[str, Any] | None]:
    """The synthetic event for one listed subscription, and its expanded customer (to cache)."""
    customer = sub.get("customer")
    expanded = customer if isinstance(customer, dict) else None
    obj = {**sub, "customer": expanded.get("id")} if expanded else sub  # the shape webhooks carry
    created = int(asked_at)  # whole seconds like Stripe's events; a same-second tie goes to the tie ranks
    event_id = f"sync_{run_id}_{sub['id']}"
    payload = {"id": event_id, "object": "event", "type": EVENT_TYPE, "created": created,
               "livemode": sub.get("livemode"), "api_version": version, "data": {"object": obj},
               "bridge_sync": True}
    livemode = sub.get("livemode")
    event = Event(provider="stripe", id=event_id, type=EVENT_TYPE, created=float(created),
                  livemode=livemode if isinstance(livemode, bool) else None, api_version=version,
                  connect_account=None, customer_id=customer_of(obj), payload=payload)
    return event, expanded


@dataclass
class Sync:
    """One sync of a Stripe account's subscriptions into the store."""

    settings: Settings
    store: Store
    api: StripeApi
    mappings: MappingSet | None = None  # needed to compare (dry run, reconcile)
    clock: Callable[[], float] = time.time
    progress: Progress | None = None
    should_stop: Callable[[], bool] = lambda: False  # asked after each stored page

    def run(self, dry_run: bool = False, restart: bool = False, compare: bool = False) -> SyncReport:
        cursor = None if dry_run or restart else self._cursor()
        report = SyncReport(cursor["run_id"] if cursor else uuid.uuid4().hex[:12],
                            resumed_after=cursor["after"] if cursor else None)
        if cursor:
            log.info("resuming an interrupted sync", extra={"run_id": report.run_id, "after": report.resumed_after})
        version = api_version()
        for page in self.api.pages(self._list, LIST_PARAMS, report.resumed_after):
            found = [snapshot_event(sub, report.run_id, page.asked_at, version) for sub in page.items]
            if dry_run or compare:
                self._compare(found, report)
            else:
                self._note_accounts(found, report)
            if not dry_run:
                self._store_page(found, page, report)
            report.subscriptions += len(page.items)
            report.stripe_requests = self.api.requests
            if self.progress:
                self.progress.update(subscriptions=report.subscriptions, accounts=len(report.accounts),
                                     queued=report.queued, requests=report.stripe_requests)
            if page.has_more and self.should_stop():
                report.stopped = True
                break
        if self.progress:
            self.progress.finish()
        if not dry_run and not report.stopped:
            self.store.set_control(CURSOR, None, self.clock())
            self.store.set_control(LAST_RUN, json.dumps({**report.summary(), "finished_at": self.clock()}),
                                   self.clock())
        return report

    def _list(self, query: dict[str, Any]) -> Any:
        options = {"stripe_version": api_version()}  # the shape the payload's api_version states
        return self.api.client.v1.subscriptions.list(params=query, options=options)  # type: ignore[arg-type]

    def _cursor(self) -> dict[str, Any] | None:
        raw = self.store.control(CURSOR)
        return json.loads(raw) if raw else None

    def _store_page(self, found: list[tuple[Event, dict[str, Any] | None]], page: Page,
                    report: SyncReport) -> None:
        """Customers first (so the worker resolves identity from the cache), then the events, then the cursor."""
        now = self.clock()
        self.store.cache_objects(PROVIDER, {c["id"]: c for _, c in found if c and c.get("id")}, now)
        config = self.settings.providers[PROVIDER]
        incoming = [Incoming(event, now, *triage(event, config), None, f"sync_{report.run_id}") for event, _ in found]
        duplicates = self.store.ingest_many(incoming) if incoming else []
        for item, duplicate in zip(incoming, duplicates, strict=True):
            report.duplicates += duplicate
            report.queued += not duplicate and item.status == RECEIVED
            report.ignored += not duplicate and item.status != RECEIVED
        if page.items:
            cursor = {"run_id": report.run_id, "after": page.items[-1]["id"], "subscriptions": report.subscriptions}
            self.store.set_control(CURSOR, json.dumps(cursor), now)

    def _enrichment(self, event: Event, customer: dict[str, Any] | None) -> dict[str, Any]:
        if customer is None and event.customer_id:
            cached = self.store.cached_object(PROVIDER, event.customer_id)
            customer = cached[0] if cached else None
        return {"customer": customer} if customer else {}

    def _note_accounts(self, found: Iterable[tuple[Event, dict[str, Any] | None]], report: SyncReport) -> None:
        for event, customer in found:
            identity = stripe_billing.resolve_identity(
                event.payload["data"]["object"], event.type, self._enrichment(event, customer),
                account_fallback=self.settings.account_fallback, visitor_fallback="skip",
                synthetic_prefix=self.settings.synthetic_visitor_prefix)
            if identity["account_id"]:
                report.accounts.add(str(identity["account_id"]))
            else:
                report.unresolved += 1

    def _compare(self, found: Iterable[tuple[Event, dict[str, Any] | None]], report: SyncReport) -> None:
        """Evaluate in memory and note every field value that differs from the stored one."""
        assert self.mappings is not None
        options = replace(eval_options(self.settings), track_enabled=False)
        wanted: dict[FieldKey, Any] = {}
        for event, customer in found:
            outcome = evaluate(self.mappings, event, self._enrichment(event, customer), options)
            report.unresolved += bool(outcome.unresolved)
            for op in outcome.operations:
                if isinstance(op, MetadataUpdate):
                    values, _ = pendo.metadata_values(op.values)
                    if op.kind == "account":
                        report.accounts.add(op.id)
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
