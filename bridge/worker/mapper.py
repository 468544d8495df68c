"""Turns stored events into outbox rows: enrich, evaluate the mappings, write the operations.

Writing the operations and marking the event happen in one transaction, so an event is mapped exactly
once even when a worker dies half-way (its lease runs out and another worker maps it from scratch).

Two ways to that transaction:
- planned (the usual way): events are evaluated from a read snapshot, which takes no write lock, and then
  written several at a time in one short transaction that first checks that nothing they read has changed (the
  account's revision, the subscription's snapshot, the customer's link). On SQLite, which has one writer,
  evaluating under its lock made webhooks wait for the worker's CPU work; on PostgreSQL one commit per event
  kept a worker far below the rate a month-start renewal brings.
- locked (whenever a plan's check fails): its account row locked before its billing state is read, the chunk in
  one transaction, then one event per transaction if that fails.

A chunk holds no two events of one account, subscription or customer, so the order its events are written in
changes nothing; they are written in one global key order (account, then subscription), so two workers'
transactions on PostgreSQL take their row locks in the same order and do not deadlock. Should PostgreSQL still
report a deadlock or a serialization failure, the chunk's events are mapped one per transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from bridge.errors import EnrichmentUnavailable, EvaluationError, EventUnconfirmed
from bridge.mapping import EvalOptions, MappingSet, evaluate, identity, operations
from bridge.mapping.operations import MetadataUpdate, Outcome, TrackEvent
from bridge.ops import alerts, backoff
from bridge.ops.alerts import Alerts
from bridge.ops.logs import bound
from bridge.pendo import client as pendo
from bridge.pendo import outbox
from bridge.providers import Event, registry
from bridge.settings import Settings
from bridge.store import billing_state, links, store
from bridge.store.db import describe, reading
from bridge.store.store import Store, StoredEvent
from bridge.worker.enrichment import Enricher

log = logging.getLogger("bridge.mapper")


@dataclass(frozen=True)
class Ready:
    """A claimed event with what its mapping needs from outside the transaction."""

    stored: StoredEvent
    enrichment: dict[str, Any]
    options: EvalOptions
    link: tuple[str, str] | None = None  # the (customer, account) link the event states, saved when it is mapped


@dataclass(frozen=True)
class Plan:
    """An event evaluated from a read snapshot, with what it read, waiting for its write transaction."""

    item: Ready
    outcome: Outcome
    state: billing_state.Prepared
    link: str | None
    now: float
    account_id: str | None = None  # the account the event resolved to: the first part of the lock order


class StateChanged(Exception):
    """What a plan read changed before its write transaction: it is evaluated again under the lock."""


class LeaseLost(Exception):
    """Another worker took the event over; this worker's transaction is abandoned."""


NEWER_VERSION_CONTROL = "newer_api_version:"  # + provider:version, in `controls`: that version was announced
MAX_ENRICHMENT_TRIES = 5  # after that an event is mapped with what the cache has
# Planned events written together: one commit instead of 25. On SQLite fewer: its one write lock, which webhooks wait
# for, is held about 0.4 ms an event (25 held it ~10 ms, and the webhooks' p99 with it), and a commit costs little.
EVENTS_PER_TRANSACTION = {"sqlite": 4}
DEFAULT_EVENTS_PER_TRANSACTION = 25
CONFLICTS = {"40P01", "40001"}  # PostgreSQL's deadlock_detected and serialization_failure


def eval_options(settings: Settings) -> EvalOptions:
    return EvalOptions(
        date_format=settings.pendo_date_format,
        track_enabled=settings.track_enabled,
        create_accounts=settings.pendo_create_accounts,
        account_fallback=settings.account_fallback,
        visitor_fallback=settings.visitor_fallback,
        synthetic_prefix=settings.synthetic_visitor_prefix,
    )


@dataclass
class Mapper:
    """Maps a worker's share of the stored events."""

    settings: Settings
    store: Store
    mappings: MappingSet
    enricher: Enricher
    worker_id: str
    clock: Callable[[], float]
    alerts: Alerts | None = None  # made from the settings when first needed
    _announced: set[str] = field(default_factory=set)  # newer API versions this process has seen

    def run_batch(self, limit: int = 100) -> int:
        claimed = self.store.claim_events(self.worker_id, self.clock(), self.settings.claim_seconds, limit)
        self.map_events(claimed)
        return len(claimed)

    def map_one(self, stored: StoredEvent) -> None:
        self.map_events([stored])

    def map_events(self, claimed: Sequence[StoredEvent]) -> None:
        """Map claimed events in their order, several per transaction where the database allows it."""
        ready = [item for stored in claimed if (item := self._ready_or_failed(stored)) is not None]
        size = EVENTS_PER_TRANSACTION.get(self.store.engine.dialect.name, DEFAULT_EVENTS_PER_TRANSACTION)
        for start in range(0, len(ready), size):
            self._write_planned(ready[start:start + size])

    def _ready_or_failed(self, stored: StoredEvent) -> Ready | None:
        """`_ready`, or None with the event marked failed when our code fails on it: one event never stops a batch."""
        try:
            return self._ready(stored)
        except SQLAlchemyError:
            raise
        except Exception as exc:
            self._give_up(stored, exc)
            return None

    def _ready(self, stored: StoredEvent) -> Ready | None:
        """The event with its enrichment and options; None when its provider could not be reached (retried later)."""
        event = stored.event
        with bound(event_id=event.id, request_id=stored.request_id), self.enricher.claimed(stored.row_id,
                                                                                        self.worker_id):
            self.enricher.remember(event)
            try:
                enrichment = self._enrichment(stored)
            except EventUnconfirmed as exc:  # listed first: such an error may be EnrichmentUnavailable too
                self._hold(stored, str(exc))
                return None
            if enrichment is None:
                return None
        if event.customer_id is None and (customer_id := identity.customer_of(event, enrichment)):
            # a dispute's customer, found through its charge: kept on the row for requeues and purges
            stored = replace(stored, event=replace(event, customer_id=customer_id))
        options = eval_options(self.settings)
        if event.payload.get("bridge_sync"):  # a sync's snapshot: account state only, never track events
            options = replace(options, track_enabled=False)
        return Ready(stored, enrichment, options, links.stated(stored.event))  # found outside any transaction

    def _enrichment(self, stored: StoredEvent) -> dict[str, Any] | None:
        """The event's enrichment; None when the provider's API could not be asked (retried later). After
        MAX_ENRICHMENT_TRIES it is what the cache has. EventUnconfirmed propagates: the event is held."""
        event = stored.event
        try:
            return self.enricher.enrich(event)
        except EventUnconfirmed:
            raise
        except EnrichmentUnavailable as exc:
            if stored.attempts + 1 < MAX_ENRICHMENT_TRIES:
                self._retry_later(stored, str(exc))
                return None
            log.warning("mapping with the cached enrichment only", extra={"reason": str(exc)})
            return self.enricher.enrich(event, fetch=False)

    def _hold(self, stored: StoredEvent, reason: str) -> None:
        """An event its provider does not vouch for: held with the reason, never mapped (`bridge status` lists it;
        `bridge replay --status held` asks again)."""
        log.warning("event held: its provider does not confirm it", extra={"reason": reason})
        with self.store.transaction() as connection:
            self.store.finish_event(connection, stored.row_id, self.worker_id, status=store.HELD,
                                    processed_at=self.clock(), detail=json.dumps({"held": reason}))

    def _retry_later(self, stored: StoredEvent, reason: str) -> None:
        now = self.clock()
        delay = backoff.delay(stored.attempts + 1, self.settings.retry_base_seconds,
                              self.settings.retry_max_seconds)
        with self.store.transaction() as connection:
            self.store.finish_event(connection, stored.row_id, self.worker_id, attempts=stored.attempts + 1,
                                    next_attempt_at=now + delay, detail=json.dumps({"retry": reason}))

    def _write_planned(self, chunk: list[Ready]) -> None:
        """Evaluate `chunk` from a read snapshot, then write it in one short transaction that checks nothing it
        read has changed meanwhile. A chunk holds independent events (see `_plan`); on any surprise its events
        go the locked way instead, which reads and writes in one transaction."""
        try:
            plans, rest, failed = self._plan(chunk)
        except SQLAlchemyError:
            raise
        except Exception:
            return self._write_each(chunk)  # the locked way finds the event the mapping code fails on
        for item, error in failed:
            self._give_up(item.stored, error)
        plans.sort(key=_lock_order)
        items = [plan.item for plan in plans]
        try:
            with self.store.transaction() as connection:
                if links.linked_accounts_of(connection, [plan.item.stored.event for plan in plans]) \
                        != [plan.link for plan in plans]:
                    raise StateChanged("a customer's link changed since the plans were read")
                fields: list[list[dict[str, Any]]] = []
                results = [self._apply(connection, plan, fields) for plan in plans]
                outbox.enqueue_in_turn(connection, fields)
        except StateChanged:
            self._write(items)  # another transaction changed what was read: read it again, under the lock
        except OperationalError as exc:
            _note_conflict(exc, len(items))
            self._write_each(items)
        except Exception:
            self._write_each(items)
        else:
            self._log_all(items, results)
        if rest:
            self._write_planned(rest)
        return None

    def _plan(self, chunk: list[Ready]) -> tuple[list[Plan], list[Ready], list[tuple[Ready, EvaluationError]]]:
        """Evaluate events from one read snapshot (no write lock), stopping before the first one of a subscription,
        account or customer an earlier one writes: it must see that write (the customer's link, its unresolved
        events requeued), so it starts the rest. The plans are then independent, and can be written in any order.
        Events over an evaluation bound come back apart, to be marked failed: evaluating them again would only go
        over the bound again."""
        plans: list[Plan] = []
        failed: list[tuple[Ready, EvaluationError]] = []
        seen: set[tuple[str, ...]] = set()
        with reading(self.store.engine) as reader:
            linked = links.linked_accounts_of(reader, [item.stored.event for item in chunk])
            for index, (item, found) in enumerate(zip(chunk, linked, strict=True)):
                link, enrichment, account_id = self._with_link(item, found)
                keys = _keys(item.stored.event, account_id)
                if keys & seen:
                    return plans, chunk[index:], failed
                seen |= keys
                now = self.clock()
                try:
                    outcome, state = self._evaluate(reader, item, enrichment, account_id, now, lock=False)
                except EvaluationError as exc:
                    failed.append((item, exc))
                    continue
                plans.append(Plan(item, outcome, state, link, now, account_id))
        return plans, [], failed

    def _apply(self, connection: Connection, plan: Plan, fields: list[list[dict[str, Any]]]) -> tuple[Outcome, str]:
        event = plan.item.stored.event
        if not billing_state.claim(connection, plan.state, plan.now):  # the links were checked for the whole chunk
            raise StateChanged(event.id)
        return self._record(connection, plan.item, plan.outcome, plan.state, plan.now, fields)

    def _write(self, chunk: list[Ready]) -> None:
        """Map `chunk` in one transaction. When that fails (a lease ran out, one event cannot be mapped) it is
        abandoned and each event is mapped in its own transaction: one event cannot hold back the others."""
        try:
            with self.store.transaction() as connection:
                results = [self._commit(connection, item) for item in chunk]
        except LeaseLost:
            if len(chunk) > 1:
                return self._write_each(chunk)
            log.warning("lease ran out before the event was mapped; another worker maps it",
                        extra={"event_id": chunk[0].stored.event.id, "request_id": chunk[0].stored.request_id})
            return None
        except SQLAlchemyError as exc:
            if len(chunk) > 1:
                if isinstance(exc, OperationalError):
                    _note_conflict(exc, len(chunk))
                return self._write_each(chunk)
            raise  # the database is the problem, not the event: the worker retries
        except Exception as exc:
            if len(chunk) > 1:
                return self._write_each(chunk)
            return self._give_up(chunk[0].stored, exc)
        self._log_all(chunk, results)
        return None

    def _log_all(self, items: list[Ready], results: list[tuple[Outcome, str]]) -> None:
        for item, (outcome, status) in zip(items, results, strict=True):
            with bound(event_id=item.stored.event.id, request_id=item.stored.request_id):
                self._log(item.stored.event, status, outcome)
                if outcome.newer_version:
                    self._announce(item.stored.event.provider, outcome.newer_version)

    def _announce(self, provider: str, version: str) -> None:
        """One alert per API version newer than bridge knows, for the whole deployment (the first to see it wins)."""
        key = f"{provider}:{version}"
        if key in self._announced:
            return
        self._announced.add(key)
        now = self.clock()
        if not self.store.swap_control(f"{NEWER_VERSION_CONTROL}{key}"[:64], None, str(now), now):
            return
        self.alerts = self.alerts or Alerts(self.settings, self.store.engine, self.clock)
        self.alerts.fire(alerts.NEWER_API_VERSION,
                         f"{provider} sends API version {version}, newer than this bridge knows: its events are "
                         "mapped as the newest known version when the fields the mappings read are there, and held "
                         "otherwise (bridge status lists both); upgrade bridge, then `bridge replay --status held`",
                         provider=provider, api_version=version)

    def _write_each(self, chunk: list[Ready]) -> None:
        for item in chunk:
            self._write([item])

    def _give_up(self, stored: StoredEvent, exc: Exception) -> None:
        """An event the mapping code fails on, or whose evaluation goes over a bound, is marked failed, not retried in
        a loop that stops the others."""
        log.error("the event could not be mapped: marked failed",
                  exc_info=None if isinstance(exc, EvaluationError) else exc,
                  extra={"event_id": stored.event.id, "request_id": stored.request_id, "reason": str(exc)})
        with self.store.transaction() as connection:
            self.store.finish_event(connection, stored.row_id, self.worker_id, status=store.FAILED,
                                    processed_at=self.clock(),
                                    detail=json.dumps({"error": f"{type(exc).__name__}: {exc}"}))

    def _identify(self, connection: Connection, item: Ready) -> tuple[str | None, dict[str, Any], str | None]:
        """The customer's link, the enrichment with it, and the account id the event resolves to."""
        return self._with_link(item, links.linked_account_of(connection, item.stored.event))

    def _with_link(self, item: Ready, link: str | None) -> tuple[str | None, dict[str, Any], str | None]:
        """The customer's `link` (read by the caller), the enrichment with it, and the account id the event
        resolves to."""
        event, options = item.stored.event, item.options
        enrichment = {**item.enrichment, "link": link} if link else item.enrichment
        return link, enrichment, identity.account_of(event, enrichment, options.account_fallback)

    def _evaluate(self, connection: Connection, item: Ready, enrichment: dict[str, Any], account_id: str | None,
                  now: float, lock: bool = True) -> tuple[Outcome, billing_state.Prepared]:
        """Evaluate with the billing state (`prior`, `account`) read in this transaction."""
        event = item.stored.event
        state = billing_state.prepare(connection, event, enrichment, account_id, now, lock=lock)
        return evaluate(self.mappings, event, {**enrichment, **state.context}, item.options), state

    def _commit(self, connection: Connection, item: Ready) -> tuple[Outcome, str]:
        """Map one event inside the chunk's transaction; LeaseLost when another worker has it now."""
        now = self.clock()
        _, enrichment, account_id = self._identify(connection, item)
        outcome, state = self._evaluate(connection, item, enrichment, account_id, now)
        return self._record(connection, item, outcome, state, now)

    def _record(self, connection: Connection, item: Ready, outcome: Outcome, state: billing_state.Prepared,
                now: float, fields: list[list[dict[str, Any]]] | None = None) -> tuple[Outcome, str]:
        """Write what one event's evaluation produced and mark it mapped; LeaseLost when another worker has it.
        With `fields`, its metadata rows are added there for the caller to upsert with the rest of its
        transaction's (`outbox.enqueue_in_turn`: one statement instead of one an event, under the write lock)."""
        stored, event, version = item.stored, item.stored.event, self.mappings.version
        status = _status(outcome)
        detail: dict[str, Any] = {"matched": outcome.matched, "unresolved": outcome.unresolved,
                                  "warnings": outcome.warnings}
        if status == store.UNRESOLVED and identity.is_guest(event, item.enrichment):
            # No later event can name a guest's account: skipped with the reason, never left waiting.
            status = store.MAPPED if outcome.operations else store.IGNORED
            detail["skipped"] = GUEST
            detail["warnings"] = [*outcome.warnings, *(f"rule {name}: {GUEST}" for name in outcome.unresolved)]
        account_ids = [op.id for op in outcome.operations
                       if isinstance(op, MetadataUpdate) and op.kind == "account"]
        if outcome.admission == operations.MAP:
            billing_state.save(connection, state)
            if item.link:
                links.save(connection, event.provider, *item.link, "metadata", now)
        if status == store.MAPPED:
            for op in outcome.operations:
                if isinstance(op, MetadataUpdate):
                    values, warnings = pendo.metadata_values(op.values)
                    rows = outbox.metadata_rows(replace(op, values=values), event.id, version, now)
                    if fields is None:
                        outbox.enqueue_fields(connection, rows)
                    else:
                        fields.append(rows)
                    detail["warnings"] += warnings
                else:
                    detail["warnings"] += self._enqueue_track(connection, op, event.id, now)
        if event.type == "customer.updated" and event.customer_id:
            self.store.requeue_unresolved(connection, event.provider, event.customer_id, now)
        if not self.store.finish_event(
            connection, stored.row_id, self.worker_id, status=status, detail=json.dumps(detail),
            processed_at=now, mapping_version=version, account_id=account_ids[0] if account_ids else None,
            customer_id=event.customer_id,
        ):
            raise LeaseLost(event.id)
        return outcome, status

    def _enqueue_track(self, connection: Connection, op: TrackEvent, event_id: str,
                       now: float) -> list[str]:
        payload, warnings = pendo.track_payload(op)
        expired = pendo.is_expired(op.timestamp, int(now * 1000))
        outbox.enqueue_track(connection, event_id, op.rule, payload, op.timestamp, self.mappings.version, now,
                             state=outbox.EXPIRED if expired else outbox.PENDING)
        if expired:
            warnings.append(f"track event {op.event!r} is older than Pendo's 7-day window: not sent")
        return warnings

    def _log(self, event: Event, status: str, outcome: Outcome) -> None:
        extra = {"event_id": event.id, "event_type": event.type, "status": status,
                 "rules": outcome.matched, "operations": len(outcome.operations)}
        if outcome.warnings:
            log.warning("event mapped with warnings", extra={**extra, "warnings": outcome.warnings})
        else:
            log.info("event mapped", extra=extra)


def _keys(event: Event, account_id: str | None) -> set[tuple[str, ...]]:
    """What an event's write touches that a later event of the chunk may read: its subscription, its account, and
    its customer (whose link it may learn, whose unresolved events a `customer.updated` requeues)."""
    keys: set[tuple[str, ...]] = set()
    if subscription_id := _subscription_id(event):
        keys.add(("subscription", subscription_id))
    if account_id:
        keys.add(("account", account_id))
    if event.customer_id:
        keys.add(("customer", event.provider, event.customer_id))
    if (connected := registry.connected(event.provider)) is not None:  # its link may be its platform's customer's
        keys.add(("customer", registry.platform(event.provider), connected))
    return keys


def _lock_order(plan: Plan) -> tuple[str, str]:
    """Every worker writes a chunk's plans in this order, so their transactions lock rows in the same order."""
    return plan.account_id or "", _subscription_id(plan.item.stored.event) or ""


def _note_conflict(exc: OperationalError, events: int) -> None:
    """Log (info: nothing is lost, the events are mapped one by one) a transaction PostgreSQL aborted for a
    deadlock or a serialization failure: another worker's transaction went first."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if code in CONFLICTS:
        log.info("the chunk's transaction conflicted with another worker's: its events are mapped one by one",
                 extra={"events": events, "reason": describe(exc)})


def _subscription_id(event: Event) -> str | None:
    """The subscription a `customer.subscription.*` event is about."""
    obj = event.payload.get("data", {}).get("object")
    if not event.type.startswith("customer.subscription.") or not isinstance(obj, dict):
        return None
    return obj.get("id") if isinstance(obj.get("id"), str) else None


GUEST = "a guest's event (no customer, account or visitor id): skipped, it can never resolve"


def _status(outcome: Outcome) -> str:
    if outcome.admission == operations.HOLD:
        return store.HELD
    if outcome.unresolved:
        return store.UNRESOLVED
    return store.MAPPED if outcome.matched else store.UNMAPPED
