"""State repair: recompute accounts' and visitors' fields from their stored events under the current mappings.

After a mapping fix, each entity touched by the selected events gets, per field, the value its stored
events now produce (replayed oldest first, rebuilding the customer links and the per-subscription billing
state the mapper gave them) (the newest by event time and rank, as the ordering guard would keep it). The values
are enqueued with source time = now, so they win the ordering guard over what the old mappings wrote;
a value equal to the one Pendo has is not sent again. Track events are re-sent only when asked, never
into Pendo's 7-day void: older ones are skipped, or re-timestamped to now with `original_timestamp`.
Every row written carries the mapping set's version.

Held events (an API version newer than bridge, whose payload failed the structural check) are not replayed here:
once the current version support admits them (after an upgrade), they are handed back to the worker, which maps
them as if they had just arrived (billing state, customer links and track events included).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import Connection, or_, select, update

from bridge.billing import rollup
from bridge.mapping import MappingSet, evaluate, identity, operations
from bridge.mapping.operations import MetadataUpdate, Outcome, TrackEvent
from bridge.pendo import client as pendo
from bridge.pendo import outbox
from bridge.providers import Event
from bridge.settings import Settings
from bridge.store import billing_state, links, store
from bridge.store.db import reading
from bridge.store.schema import events, field_values, track_events
from bridge.store.store import Store, event_from_row, insert_for
from bridge.worker import enrichment
from bridge.worker.mapper import eval_options

FieldKey = tuple[str, str, str]  # (kind, id, field)


@dataclass(frozen=True)
class ReplayFilter:
    """Which stored events to replay; empty means all."""

    event_ids: tuple[str, ...] = ()
    type_glob: str | None = None
    since: float | None = None
    until: float | None = None
    failed_only: bool = False
    status: str | None = None  # only events with this status, e.g. held


@dataclass(frozen=True)
class Derived:
    """A field's recomputed value and where it came from."""

    value: Any
    order: tuple[int, int]  # (source_time, rank) of the event that produced it
    event_id: str
    create: bool


@dataclass
class ReplayReport:
    """What a replay changed (or would change)."""

    version: str
    dry_run: bool
    selected: int = 0
    history: int = 0
    changes: list[tuple[FieldKey, Any, Any]] = field(default_factory=list)  # (key, old or None, new)
    unchanged: int = 0
    tracks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    requeued: int = 0  # held events handed back to the worker
    still_held: int = 0  # held events the current version support still holds

    def render(self) -> str:
        head = "dry run: nothing sent" if self.dry_run else "enqueued"
        lines = [f"replay ({head}) under mappings {self.version}: {self.selected} event(s) selected, "
                 f"{self.history} stored event(s) of their customers re-evaluated"]
        for (kind, entity, name), old, new in self.changes:
            before = "(not set)" if old is None else json.dumps(old)
            lines.append(f"  {kind} {entity}: {name}: {before} -> {json.dumps(new)}")
        lines.append(f"{len(self.changes)} field(s) changed, {self.unchanged} unchanged")
        lines += [f"  {line}" for line in self.tracks]
        lines += self._held()
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    def _held(self) -> list[str]:
        lines = []
        if self.requeued:
            verb = "would be handed back" if self.dry_run else "handed back"
            lines.append(f"{self.requeued} held event(s) {verb} to the worker, which maps them as new (fields, billing "
                         "state, track events not older than 7 days)")
        if self.still_held:
            lines.append(f"{self.still_held} held event(s) stay held: their API version is newer than this bridge "
                         "and the fields the mappings read are not where they were (upgrade bridge first)")
        return lines


def _selected(connection: Connection, selection: ReplayFilter) -> list[Any]:
    query = select(events).where(events.c.payload.is_not(None), events.c.status != store.IGNORED)
    if selection.event_ids:
        query = query.where(events.c.event_id.in_(selection.event_ids))
    if selection.since is not None:
        query = query.where(events.c.created >= selection.since)
    if selection.until is not None:
        query = query.where(events.c.created < selection.until)
    if selection.status is not None:
        query = query.where(events.c.status == selection.status)
    if selection.failed_only:
        failed_fields = select(field_values.c.event_id).where(field_values.c.state.in_([outbox.FAILED, outbox.HELD]))
        failed_tracks = select(track_events.c.event_id).where(track_events.c.state == outbox.FAILED)
        query = query.where(or_(events.c.status.in_([store.FAILED, store.UNRESOLVED]),
                                events.c.event_id.in_(failed_fields), events.c.event_id.in_(failed_tracks)))
    rows = connection.execute(query.order_by(events.c.created, events.c.id)).mappings().all()
    return [row for row in rows if selection.type_glob is None or fnmatchcase(row["type"], selection.type_glob)]


def _history(connection: Connection, selected: list[Any]) -> list[Any]:
    """Every stored event of the selected events' customers (the selected ones too), oldest first; a customer is
    its provider's (the same id at another provider is another customer)."""
    rows: list[Any] = []
    for provider, customers in _customers(selected).items():
        rows += connection.execute(
            select(events).where(events.c.provider == provider, events.c.customer_id.in_(customers),
                                 events.c.payload.is_not(None), events.c.status != store.IGNORED)
        ).mappings().all()
    known = {row["id"] for row in rows}
    rows += [row for row in selected if row["id"] not in known]
    return sorted(rows, key=lambda row: (row["created"], row["id"]))


def _customers(rows: list[Any]) -> dict[str, set[str]]:
    """The customer ids of `rows`, by provider."""
    found: dict[str, set[str]] = {}
    for row in rows:
        if row["customer_id"]:
            found.setdefault(row["provider"], set()).add(row["customer_id"])
    return found


def _fold(derived: dict[FieldKey, Derived], op: MetadataUpdate, event_id: str) -> None:
    """Keep, per field, the value of the highest (source_time, rank): what the ordering guard keeps."""
    for name, value in pendo.metadata_values(op.values)[0].items():
        key, candidate = (op.kind, op.id, name), Derived(value, (op.source_time, op.rank), event_id, op.create)
        if key not in derived or derived[key].order <= candidate.order:
            derived[key] = candidate


def _current(connection: Connection, keys: Iterable[FieldKey]) -> dict[FieldKey, Any]:
    found: dict[FieldKey, Any] = {}
    for kind, entity, name in keys:
        value = connection.execute(select(field_values.c.value).where(
            field_values.c.kind == kind, field_values.c.entity_id == entity, field_values.c.field == name)).scalar()
        if value is not None:
            found[(kind, entity, name)] = json.loads(value)
    return found


class _Replay:
    """One replay run: every event is evaluated once, before any write (enrichment reads the database)."""

    def __init__(self, store_: Store, mappings: MappingSet, settings: Settings, now: float):
        self.store, self.mappings, self.settings, self.now = store_, mappings, settings, now
        self.enricher = enrichment.cached(store_)
        self.options = eval_options(settings)
        self.outcomes: dict[int, tuple[Event, Outcome]] = {}
        self.snapshots: dict[tuple[str, str], dict[str, Any]] = {}  # (provider, id) → latest snapshot replayed

    def evaluate(self, rows: list[Any], links_: Mapping[tuple[str, str], str]) -> None:
        """Evaluate oldest first, rebuilding the billing state (`prior`, `account`) as the mapper saw it grow."""
        for row in rows:
            event = event_from_row(row)
            enrichment = self.enricher.enrich(event, fetch=False)
            link = links_.get((event.provider, event.customer_id or ""))
            enrichment = {**enrichment, "link": link} if link else enrichment
            enrichment = {**enrichment, **self._billing(event, enrichment)}
            self.outcomes[row["id"]] = (event, evaluate(self.mappings, event, enrichment, self.options))

    def _billing(self, event: Event, enrichment: Mapping[str, Any]) -> dict[str, Any]:
        """This subscription's previous snapshot and the roll-up of its account's subscriptions so far."""
        subscription = billing_state.subscription_of(event, enrichment)
        if subscription is None:
            return {}
        account_id = identity.account_of(event, enrichment, self.options.account_fallback)
        key = (event.provider, str(subscription["id"]))
        prior = self.snapshots.get(key, {}).get("payload", {})
        self.snapshots[key] = {"payload": subscription, "account": account_id,
                               "snapshot": rollup.snapshot(event.provider, subscription, int(event.created * 1000))}
        if account_id is None:
            return {"prior": prior}
        mine = [found["snapshot"] for found in self.snapshots.values()
                if found["account"] == account_id and found["snapshot"] is not None]
        return {"prior": prior, "account": rollup.account(mine, account_id)}

    def derive(self, history: list[Any]) -> dict[FieldKey, Derived]:
        derived: dict[FieldKey, Derived] = {}
        for row in history:
            event, outcome = self.outcomes[row["id"]]
            for op in outcome.operations:
                if isinstance(op, MetadataUpdate):
                    _fold(derived, op, event.id)
        return derived

    def enqueue_fields(self, connection: Connection, derived: dict[FieldKey, Derived]) -> None:
        now_ms = int(self.now * 1000)
        for (kind, entity, name), item in derived.items():
            op = MetadataUpdate(kind=kind, id=entity, values={name: item.value}, source_time=now_ms,
                                rank=item.order[1], create=item.create)
            outbox.enqueue_metadata(connection, op, item.event_id, self.mappings.version, self.now)

    def tracks(self, selected: list[Any], retimestamp: bool) -> tuple[list[tuple[str, TrackEvent]], list[str]]:
        """The track events to re-send (event id, operation), and a line for each, sent or not."""
        chosen: list[tuple[str, TrackEvent]] = []
        lines = []
        now_ms = int(self.now * 1000)
        for row in selected:
            event, outcome = self.outcomes[row["id"]]
            for op in outcome.operations:
                if not isinstance(op, TrackEvent):
                    continue
                label = f"track {op.event!r} of {event.id}"
                if pendo.is_expired(op.timestamp, now_ms):
                    if not retimestamp:
                        lines.append(f"{label}: older than Pendo's 7-day window, not re-sent (use --retimestamp)")
                        continue
                    op = replace(op, timestamp=now_ms, properties={**op.properties, "original_timestamp": op.timestamp})
                    label += " (re-timestamped to now, original_timestamp kept)"
                chosen.append((event.id, op))
                lines.append(label)
        return chosen, lines

    def upsert_track(self, connection: Connection, event_id: str, op: TrackEvent) -> None:
        payload, _ = pendo.track_payload(op)
        statement = insert_for(connection, track_events).values(
            event_id=event_id, rule=op.rule, payload=json.dumps(payload), timestamp_ms=op.timestamp,
            mapping_version=self.mappings.version, state=outbox.PENDING, attempts=0, next_attempt_at=self.now,
            created_at=self.now, reclaims=0,
        )
        connection.execute(statement.on_conflict_do_update(
            index_elements=["event_id", "rule"],
            set_={"payload": statement.excluded.payload, "timestamp_ms": statement.excluded.timestamp_ms,
                  "mapping_version": statement.excluded.mapping_version, "state": outbox.PENDING,
                  "attempts": 0, "next_attempt_at": self.now, "last_error": None},
        ))

    def settle_events(self, connection: Connection, selected: list[Any]) -> None:
        """Mark failed or unresolved events that now map as mapped, under this mapping version."""
        for row in selected:
            _, outcome = self.outcomes[row["id"]]
            if row["status"] not in (store.FAILED, store.UNRESOLVED) or row["claimed_by"]:
                continue
            if outcome.matched and not outcome.unresolved:
                connection.execute(update(events).where(events.c.id == row["id"]).values(
                    status=store.MAPPED, mapping_version=self.mappings.version, processed_at=self.now))


def _admitted(run: _Replay, held: list[Any]) -> list[Any]:
    """The held events the current version support maps (`evaluate` decides that before reading anything else)."""
    return [row for row in held
            if evaluate(run.mappings, event_from_row(row), {}, run.options).admission == operations.MAP]


def _requeue(connection: Connection, rows: list[Any], now: float) -> None:
    """Hand held events back to the worker: it maps them as if they had just arrived."""
    if rows:
        connection.execute(update(events).where(events.c.id.in_([row["id"] for row in rows]),
                                                events.c.status == store.HELD)
                           .values(status=store.RECEIVED, next_attempt_at=now, attempts=0))


def replay(store_: Store, mappings: MappingSet, settings: Settings, selection: ReplayFilter, now: float, *,
           tracks: bool = False, retimestamp: bool = False, dry_run: bool = False) -> ReplayReport:
    """Recompute and (unless `dry_run`) enqueue the fields of every entity the selected events touch; hand held
    events the current version support admits back to the worker."""
    run = _Replay(store_, mappings, settings, now)
    report = ReplayReport(mappings.version, dry_run)
    with reading(store_.engine) as connection:
        chosen = _selected(connection, selection)
        held = [row for row in chosen if row["status"] == store.HELD]
        selected = [row for row in chosen if row["status"] != store.HELD]
        history = _history(connection, selected)
        linked = {(row["provider"], row["customer_id"]): link for row in history if row["customer_id"] and (
            link := links.linked_account(connection, row["provider"], row["customer_id"]))}
    requeue = _admitted(run, held)
    report.selected, report.history = len(chosen), len(history)
    report.requeued, report.still_held = len(requeue), len(held) - len(requeue)
    run.evaluate(history, linked)
    derived = run.derive(history)
    with reading(store_.engine) as connection:
        current = _current(connection, derived)
    for key, item in sorted(derived.items()):
        if key in current and current[key] == item.value:
            report.unchanged += 1
        else:
            report.changes.append((key, current.get(key), item.value))
    resend, lines = run.tracks(selected, retimestamp) if tracks else ([], [])
    verb = "would re-send" if dry_run else "re-sent"
    report.tracks = [line if "not re-sent" in line else f"{line}: {verb}" for line in lines]
    if not dry_run:
        with store_.transaction() as connection:
            run.enqueue_fields(connection, derived)
            for event_id, op in resend:
                run.upsert_track(connection, event_id, op)
            run.settle_events(connection, selected)
            _requeue(connection, requeue, now)
    if not chosen:
        report.notes.append("no stored event matches the filters (payloads are deleted after BRIDGE_RETENTION_DAYS)")
    report.notes.append("fields the mappings no longer produce are left as they are in Pendo (null = not sent)")
    return report
