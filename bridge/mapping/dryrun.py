"""What an event would do, without sending anything: the rules it matches and the exact Pendo requests.

Used by `bridge try` and `bridge test`; no Pendo call is ever made here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.errors import PayloadError
from bridge.mapping import EvalOptions, MappingSet, evaluate
from bridge.mapping.operations import MetadataUpdate, Outcome, TrackEvent
from bridge.pendo import client as pendo
from bridge.providers import Event, registry
from bridge.settings import Settings


@dataclass(frozen=True)
class PendoRequest:
    """One HTTP request the operations would make, and notes on it (e.g. Pendo would ignore it)."""

    method: str
    base: str
    path: str
    body: Any
    notes: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"method": self.method, "url": self.base + self.path, "path": self.path, "body": self.body,
                "notes": list(self.notes)}


@dataclass
class DryRun:
    """An event's outcome and the requests it implies."""

    event: Event
    outcome: Outcome
    requests: list[PendoRequest] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        outcome = self.outcome
        return {
            "event": {"id": self.event.id, "type": self.event.type, "livemode": self.event.livemode},
            "matched": outcome.matched, "skipped": outcome.skipped, "unresolved": outcome.unresolved,
            "warnings": outcome.warnings, "notes": self.notes,
            "requests": [request.as_json() for request in self.requests],
        }


def parse_event(body: bytes | str | Mapping[str, Any], provider: str | None = None,
                headers: Mapping[str, str] | None = None) -> Event:
    """An event as `provider`'s webhook would carry it (the first registered provider when None), through its
    package's `read`: the signature is not checked, since this is a body an admin chose. A mapping is the event's
    JSON; text or bytes are the body as sent (a form, for providers that post forms)."""
    raw = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return registry.read(raw, provider, headers)


def event_file(path: Path, provider: str | None = None) -> Event:
    """The event a file holds, as `provider`'s webhook body; a PayloadError names the file."""
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise PayloadError(f"{path}: cannot be read: {exc}") from None
    try:
        return parse_event(body, provider)
    except PayloadError as exc:
        raise PayloadError(f"{path}: {exc}") from None


def providers() -> tuple[str, ...]:
    """The providers whose events can be tried, the default first."""
    return registry.PACKAGES


def read_json(path: Path) -> Any:
    """A JSON file, or a PayloadError naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PayloadError(f"{path}: cannot be read as JSON: {exc}") from None


def requests_for(outcome: Outcome, settings: Settings, now_ms: int) -> tuple[list[PendoRequest], list[str]]:
    """The requests delivery would make for these operations (metadata grouped per kind), and warnings."""
    warnings: list[str] = []
    rows: dict[tuple[str, bool], list[dict[str, Any]]] = {}
    tracks: list[PendoRequest] = []
    for op in outcome.operations:
        if isinstance(op, MetadataUpdate):
            values, found = pendo.metadata_values(op.values)
            warnings += found
            rows.setdefault((op.kind, op.create), []).append({pendo.ID_KEYS[op.kind]: op.id, "values": values})
        else:
            tracks.append(_track_request(op, settings, now_ms, warnings))
    metadata = [
        PendoRequest("POST", settings.pendo_api_base,
                     f"/api/v1/metadata/{kind}/custom/value" + ("?create=true" if create else ""), body)
        for (kind, create), body in rows.items()
    ]
    return metadata + tracks, warnings


def _track_request(op: TrackEvent, settings: Settings, now_ms: int, warnings: list[str]) -> PendoRequest:
    payload, found = pendo.track_payload(op)
    warnings += found
    notes = []
    if pendo.is_expired(op.timestamp, now_ms):
        notes.append("older than 7 days: Pendo would silently ignore it, so the service does not send it")
    if not settings.track_enabled:
        notes.append("PENDO_TRACK_EVENT_SECRET is not set: the service sends no track events")
    return PendoRequest("POST", settings.pendo_data_base, "/data/track", payload, tuple(notes))


def dry_run(mappings: MappingSet, event: Event, enrichment: Mapping[str, Any], settings: Settings,
            options: EvalOptions, now_ms: int) -> DryRun:
    """Evaluate and turn the operations into requests."""
    outcome = evaluate(mappings, event, enrichment, options)
    requests, warnings = requests_for(outcome, settings, now_ms)
    outcome.warnings.extend(warnings)
    return DryRun(event, outcome, requests)


def render(run: DryRun) -> str:
    """The readable report."""
    outcome, event = run.outcome, run.event
    lines = [f"event {event.id} {event.type} (livemode: {event.livemode})", ""]
    lines.append("matched: " + (", ".join(outcome.matched) or "no rule"))
    lines += [f"  not matched: {name}: {reason}" for name, reason in outcome.skipped.items()]
    lines += [f"  unresolved: {name}: no account id (the event would wait for customer metadata)"
              for name in outcome.unresolved]
    lines += [f"warning: {warning}" for warning in outcome.warnings]
    lines += [f"note: {note}" for note in run.notes]
    lines += ["", f"{len(run.requests)} Pendo request(s):" if run.requests else "no Pendo request"]
    for request in run.requests:
        lines.append(f"\n{request.method} {request.base}{request.path}")
        lines += [f"  ({note})" for note in request.notes]
        lines.append(json.dumps(request.body, indent=2, ensure_ascii=False))
    return "\n".join(lines)
