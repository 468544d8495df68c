"""One event as the admin console shows it: its payload (masked), how it came in, what mapping made of it, and
every outbox row it produced with Pendo's answer — as one timeline."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, RowMapping, select

from bridge.pendo.client import ID_KEYS
from bridge.store.db import reading
from bridge.store.schema import events, field_values, track_events
from bridge.web.admin.redaction import redact

# Where an event came from, by the request id it was stored with (bridge/sync/*.py name their runs so).
SOURCES = (("sync_", "the provider's API: a `bridge sync` snapshot"),
           ("catchup_", "the provider's API: `bridge catchup`"))

ANSWERS = {  # what a row's state says about Pendo's answer
    "delivered": "Pendo accepted it",
    "pending": "waiting to be sent",
    "waiting_for_pendo": "Pendo does not know this id yet: retried until PENDO_MISSING_WINDOW_HOURS",
    "held": "Pendo has no such custom field: held until it exists (`bridge pendo setup`)",
    "failed": "Pendo refused it for good",
    "expired": "older than Pendo's 7-day window: not sent",
}


OUTCOMES = {
    "mapped": "Mapped",
    "unmapped": "Not mapped: no rule matches this event",
    "unresolved": "Unresolved: no Pendo account id",
    "failed": "Mapping failed",
    "held": "Held: a newer API version than bridge reads (upgrade, then retry or `bridge replay --status held`)",
}


@dataclass(frozen=True)
class Step:
    """One line of the timeline."""

    at: float | None
    title: str
    state: str = ""
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entity:
    """The values this event set on one Pendo account or visitor, and its row of the bulk request Pendo gets."""

    kind: str
    id: str
    rows: list[dict[str, Any]]

    @property
    def body(self) -> dict[str, Any]:
        return {ID_KEYS.get(self.kind, "id"): self.id, "values": {row["field"]: row["decoded"] for row in self.rows}}


@dataclass
class EventView:
    row: RowMapping
    payload: str | None  # pretty JSON, masked; None once retention removed it
    source: str
    detail: dict[str, Any] | None  # the mapping outcome the worker stored (matched, unresolved, warnings, error)
    note: str | None  # a plain-text detail (why an event was only stored)
    values: list[dict[str, Any]] = field(default_factory=list)
    tracks: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[Step] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)  # the values, per Pendo account / visitor


def source_of(request_id: str | None) -> str:
    for prefix, label in SOURCES:
        if (request_id or "").startswith(prefix):
            return label
    return "webhook: its signature was verified before it was stored"


def _detail(text: str | None) -> tuple[dict[str, Any] | None, str | None]:
    if not text:
        return None, None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None, text
    return (parsed, None) if isinstance(parsed, dict) else (None, text)


def _pretty(text: str | None, patterns: tuple[str, ...]) -> str | None:
    if text is None:
        return None
    try:
        return json.dumps(redact(json.loads(text), patterns), indent=2, ensure_ascii=False)
    except ValueError:
        return "(the stored payload is not JSON)"


def load(engine: Engine, provider: str, event_id: str, patterns: tuple[str, ...]) -> EventView | None:
    """The event and its outbox rows, or None when no such event is stored."""
    with reading(engine) as connection:
        row = connection.execute(select(events).where(events.c.provider == provider,
                                                      events.c.event_id == event_id)).mappings().first()
        if row is None:
            return None
        values = connection.execute(select(field_values).where(field_values.c.event_id == event_id)
                                    .order_by(field_values.c.kind, field_values.c.entity_id,
                                              field_values.c.field)).mappings().all()
        tracks = connection.execute(select(track_events).where(track_events.c.event_id == event_id)
                                    .order_by(track_events.c.id)).mappings().all()
    detail, note = _detail(row["detail"])
    view = EventView(row, _pretty(row["payload"], patterns), source_of(row["request_id"]), detail, note)
    view.values = [{**value, "decoded": json.loads(value["value"])} for value in values]
    view.tracks = [{**track, "pretty": _pretty(track["payload"], patterns), "name": _track_name(track)}
                   for track in tracks]
    view.timeline = timeline(view)
    view.entities = entities(view.values)
    return view


def entities(values: list[dict[str, Any]]) -> list[Entity]:
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for value in values:
        grouped.setdefault((value["kind"], value["entity_id"]), []).append(value)
    return [Entity(kind, entity, rows) for (kind, entity), rows in grouped.items()]


def _mapping_step(view: EventView) -> Step | None:
    row, detail = view.row, view.detail or {}
    if row["status"] == "received":
        return Step(None, "Waiting to be mapped", "pending",
                    (f"attempt {row['attempts']}; retry: {detail['retry']}",) if detail.get("retry") else ())
    if row["status"] == "ignored":
        return Step(row["received_at"], "Stored only, never mapped", "ignored", (view.note or "",))
    lines = [f"rules matched: {', '.join(detail.get('matched') or []) or 'none'}"]
    if detail.get("unresolved"):
        lines.append("no Pendo account id resolved for: " + ", ".join(detail["unresolved"])
                     + " — mapped again when customer.updated brings the customer's metadata")
    if detail.get("error"):
        lines.append(f"error: {detail['error']}")
    lines += [f"warning: {warning}" for warning in detail.get("warnings") or []]
    if row["mapping_version"]:
        lines.append(f"mapping version {row['mapping_version']}")
    return Step(row["processed_at"], OUTCOMES.get(row["status"], row["status"]), row["status"], tuple(lines))


def _value_steps(values: list[dict[str, Any]]) -> list[Step]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for value in values:
        groups.setdefault((value["kind"], value["entity_id"]), []).append(value)
    steps = []
    for (kind, entity), rows in groups.items():
        for state in sorted({r["state"] for r in rows}):
            members = [r for r in rows if r["state"] == state]
            lines = [f"{r['field']} = {json.dumps(r['decoded'], ensure_ascii=False)}" for r in members]
            errors = sorted({r["last_error"] for r in members if r["last_error"]})
            lines += [f"Pendo's answer: {error}" for error in errors]
            attempts = max(r["attempts"] for r in members)
            if attempts:
                lines.append(f"attempts: {attempts}")
            steps.append(Step(max(r["updated_at"] for r in members), f"{kind} {entity}: {ANSWERS.get(state, state)}",
                              state, tuple(lines)))
    return steps


def _track_name(track: RowMapping) -> str:
    """The event name Pendo shows (the rule's name once retention removed the body)."""
    return str(json.loads(track["payload"]).get("event", track["rule"])) if track["payload"] else str(track["rule"])


def _track_steps(tracks: list[dict[str, Any]]) -> list[Step]:
    steps = []
    for track in tracks:
        name = track["name"]
        steps.append(Step(track["created_at"], f"track event {name!r} queued (rule {track['rule']})", "queued"))
        lines = [f"Pendo's answer: {track['last_error']}"] if track["last_error"] else []
        if track["attempts"]:
            lines.append(f"attempts: {track['attempts']}")
        steps.append(Step(track["delivered_at"], f"track event {name!r}: {ANSWERS.get(track['state'], track['state'])}",
                          track["state"], tuple(lines)))
    return steps


def timeline(view: EventView) -> list[Step]:
    """Receipt, mapping, then each outbox row's outcome, in time order (steps without a time last)."""
    row = view.row
    received = Step(row["received_at"], "Received", "received",
                    (view.source, f"request id {row['request_id']}" if row["request_id"] else ""))
    steps = [received] + [s for s in [_mapping_step(view)] if s] + _value_steps(view.values) + _track_steps(view.tracks)
    timed = sorted((s for s in steps if s.at is not None), key=lambda s: s.at or 0.0)
    return timed + [s for s in steps if s.at is None]
