"""What `bridge status` prints and `/metrics` exposes: one snapshot of the deployment, two renderings.

The Prometheus text exposition format (version 0.0.4) is written here by hand: a dozen gauges and counters
do not need a client library, and every process reads the same numbers from the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from bridge.imports import runs as import_runs
from bridge.pendo import outbox as ob
from bridge.pendo.budget import ALL, ENDPOINTS, Budget
from bridge.pendo.outbox import Outbox
from bridge.providers import registry
from bridge.settings import Settings
from bridge.store import keys
from bridge.store import store as st
from bridge.store.db import reading
from bridge.store.schema import events
from bridge.store.store import Store

CONTROL_PAUSE = "pendo_paused"  # the same control name `bridge.pendo.delivery.PAUSE` writes
CONTROL_PAUSE = "pendo_paused"  # the same control names `bridge.delivery.PAUSE` and `TRACK_PAUSE` write
CONTROL_TRACK_PAUSE = "pendo_track_paused"
RECENT_FAILURES = 10
VERSION_WINDOW_SECONDS = 30 * 86400  # the API versions of the events received in this window are listed


def summary(event_counts: dict[str, int], outbox_counts: dict[str, dict[str, int]]) -> dict[str, int]:
    """The states people ask about, across events, metadata values and track events."""
    metadata, track = outbox_counts.get("metadata", {}), outbox_counts.get("track", {})
    return {
        "pending": metadata.get(ob.PENDING, 0) + track.get(ob.PENDING, 0) + event_counts.get(st.RECEIVED, 0),
        "waiting_for_pendo": metadata.get(ob.WAITING, 0) + track.get(ob.WAITING, 0),
        "unresolved": event_counts.get(st.UNRESOLVED, 0),
        "held": metadata.get(ob.HELD, 0),
        "failed": metadata.get(ob.FAILED, 0) + track.get(ob.FAILED, 0) + event_counts.get(st.FAILED, 0),
        "delivered": metadata.get(ob.DELIVERED, 0) + track.get(ob.DELIVERED, 0),
        "ignored": event_counts.get(st.IGNORED, 0) + event_counts.get(st.UNMAPPED, 0),
        "expired": track.get(ob.EXPIRED, 0) + event_counts.get(st.EXPIRED, 0),
        "purged": track.get(ob.PURGED, 0) + event_counts.get(st.PURGED, 0),
    }


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _version_counts(engine: Engine, since: float) -> dict[tuple[str, str | None], dict[str, Any]]:
    """Events received since `since` per (provider, API version): how many of each status, the last time."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(events.c.provider, events.c.api_version, events.c.status, func.count(),
                   func.max(events.c.received_at))
            .where(events.c.received_at >= since)
            # provider not first: SQLite without statistics would scan the (provider, event_id) index instead of
            # searching ix_events_received
            .group_by(events.c.api_version, events.c.status, events.c.provider)).all()
    found: dict[tuple[str, str | None], dict[str, Any]] = {}
    for provider, version, status, count, last in rows:
        # a connected account's events count toward its platform's endpoint: one entry per endpoint, however many
        # connected accounts it hears from
        entry = found.setdefault((registry.platform(provider), version), {"statuses": {}, "last": 0.0})
        entry["statuses"][status] = entry["statuses"].get(status, 0) + count
        entry["last"] = max(entry["last"], last)
    return found


def _connected_accounts(engine: Engine, since: float) -> dict[str, int]:
    """How many connected accounts each endpoint's events came from since `since`, by its key."""
    with reading(engine) as connection:
        keys = connection.execute(select(events.c.provider).where(events.c.received_at >= since)
                                  .group_by(events.c.provider)).scalars().all()
    counted: dict[str, int] = {}
    for key in keys:
        if registry.connected(key):
            counted[registry.platform(key)] = counted.get(registry.platform(key), 0) + 1
    return counted


def api_versions(engine: Engine, now: float) -> dict[str, list[dict[str, Any]]]:
    """Per provider, the API versions its events carried in the last 30 days, the most recently seen first."""
    listed: dict[str, list[dict[str, Any]]] = {}
    counts = _version_counts(engine, now - VERSION_WINDOW_SECONDS)
    for (provider, version), entry in sorted(counts.items(), key=lambda item: -item[1]["last"]):
        # supported, newer (mapped after a structural check, else held) or unsupported (stored, not mapped)
        standing = registry.version_standing(provider, version)
        listed.setdefault(provider, []).append({
            "api_version": version, "events": sum(entry["statuses"].values()),
            "statuses": dict(sorted(entry["statuses"].items())), "last_seen": _iso(entry["last"]),
            "support": standing})
    return listed


def _statuses(entry: dict[str, Any]) -> str:
    return ", ".join(f"{count} {status}" for status, count in entry["statuses"].items())


def version_warnings(versions: dict[str, list[dict[str, Any]]]) -> list[str]:
    """What `bridge status` says about API versions that are not simply supported."""
    warnings = []
    for provider, listed in sorted(versions.items()):
        for entry in listed:
            head = f"{provider} API version {entry['api_version']}"
            seen = f"{entry['events']} event(s) in 30 days: {_statuses(entry)}"
            if entry["support"] == registry.NEWER:
                warnings.append(f"{head} is newer than this bridge knows ({seen}): its events are mapped as the "
                                "newest known version when the fields the mappings read are there, else held; "
                                "upgrade bridge, then `bridge replay --status held`")
            elif entry["support"] == registry.UNSUPPORTED:
                warnings.append(f"{head} is not supported ({seen}): its events are stored, not mapped")
    return warnings


def oldest_received(engine: Engine) -> float | None:
    """When the oldest event still waiting to be mapped was received."""
    with reading(engine) as connection:
        return connection.execute(
            select(func.min(events.c.received_at)).where(events.c.status == st.RECEIVED)).scalar()


def lag_seconds(store: Store, box: Outbox, now: float) -> float:
    """The age of the oldest change not yet in Pendo (0 when nothing waits)."""
    times = [t for t in (oldest_received(store.engine), box.oldest_pending()) if t is not None]
    return max(now - min(times), 0.0) if times else 0.0


def collect(settings: Settings, store: Store, now: float) -> dict[str, Any]:
    """Every number of `bridge status` and `/metrics`, read from the database."""
    box = Outbox(store.engine)
    event_counts, outbox_counts = store.count_by_status(), box.counts()
    budget = Budget(store.engine, settings.pendo_requests_per_second)
    budget_state = budget.state(now)
    total = budget_state.get(ALL)
    versions = api_versions(store.engine, now)
    return {
        "states": summary(event_counts, outbox_counts),
        "events": event_counts,
        "api_versions": versions,
        "warnings": version_warnings(versions),
        **outbox_counts,
        "lag_seconds": round(lag_seconds(store, box, now), 3),
        "paused": store.control(CONTROL_PAUSE),
        "track_paused": store.control(CONTROL_TRACK_PAUSE),
        "possible_duplicates": box.reclaim_count(),
        "budget": {
            "requests_per_second": settings.pendo_requests_per_second,
            "burst": budget.burst,
            "requests_last_second": total.requests_last_second if total else 0,
            "in_use": round((total.requests_last_second if total else 0) / settings.pendo_requests_per_second, 3),
            "endpoints": {
                name: {"requests_total": s.requests_total, "wait_seconds": round(s.wait_seconds, 3),
                       "consecutive_failures": s.failures}
                for name, s in budget_state.items() if name in ENDPOINTS
            },
        },
        "recent_failures": box.recent_failures(RECENT_FAILURES),
        # Where the outbox's rows came from (webhooks, each API key by name, imports) and each API key's use.
        "sources": box.counts_by_source(),
        "webhook_sources": webhook_sources(settings, versions,
                                           _connected_accounts(store.engine, now - VERSION_WINDOW_SECONDS)),
        "api_keys": {key.name: key.usage() for key in keys.list_keys(store.engine)},
        "imports": import_runs.summary(store.engine),
        "retention": retention(settings, store, now),
    }


def webhook_sources(settings: Settings, versions: dict[str, list[dict[str, Any]]],
                    connected: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Each provider account, by key (`<name>`, `<name>/<source>`): its endpoint, whether it is configured here, and its
    events of the last 30 days (a key no longer configured still shows while its events are recent), with the
    connected accounts they came from."""
    found: dict[str, dict[str, Any]] = {}
    for provider_key in sorted(set(settings.providers) | set(versions)):
        name, source = registry.split(provider_key)
        found[provider_key] = {
            "provider": name, "source": source, "endpoint": f"/webhooks/{provider_key}",
            "configured": provider_key in settings.providers,
            "events_30d": sum(entry["events"] for entry in versions.get(provider_key, [])),
            "connected_accounts_30d": connected.get(provider_key, 0),
        }
    return found


def retention(settings: Settings, store: Store, now: float) -> dict[str, Any]:
    """The retention rule in force and the payloads it has still to delete (docs/operations.md)."""
    stored = store.stored_payloads()
    oldest = stored["oldest_final_at"]
    return {
        "days": settings.retention_days,
        "deletes": "payloads of mapped, unmapped and ignored events once everything they produced is settled, and "
                   "of unresolved and failed events, BRIDGE_RETENTION_DAYS after they became final",
        "stored_payloads": stored["by_status"],
        "oldest_final_payload_days": None if oldest is None else round((now - oldest) / 86400, 2),
    }


def _line(name: str, value: float, labels: dict[str, str] | None = None) -> str:
    if not labels:
        return f"{name} {_number(value)}"
    rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return f"{name}{{{rendered}}} {_number(value)}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _version_labels(provider: str, entry: dict[str, Any]) -> dict[str, str]:
    return {"provider": provider, "api_version": entry["api_version"] or "", "support": entry["support"]}


def _family(name: str, kind: str, help_text: str, samples: Iterable[str]) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples]


def render(snapshot: dict[str, Any]) -> str:
    """The snapshot in Prometheus' text exposition format."""
    budget = snapshot["budget"]
    endpoints = budget["endpoints"]
    lines = [
        *_family("bridge_state_rows", "gauge", "Events and outbox rows by the state bridge status shows.",
                 (_line("bridge_state_rows", n, {"state": s}) for s, n in sorted(snapshot["states"].items()))),
        *_family("bridge_events", "gauge", "Stored events by status.",
                 (_line("bridge_events", n, {"status": s}) for s, n in sorted(snapshot["events"].items()))),
        *_family("bridge_outbox_rows", "gauge", "Metadata field values and track events by state.",
                 (_line("bridge_outbox_rows", n, {"outbox": box, "state": s})
                  for box in ("metadata", "track") for s, n in sorted(snapshot[box].items()))),
        *_family("bridge_api_version_events", "gauge",
                 "Events received in the last 30 days by provider, API version and support (newer: a version after "
                 "every one bridge knows, mapped after a structural check, else held).",
                 (_line("bridge_api_version_events", e["events"], _version_labels(provider, e))
                  for provider, listed in sorted(snapshot["api_versions"].items()) for e in listed)),
        *_family("bridge_api_version_held_events", "gauge",
                 "Events of the last 30 days held for an upgrade, by provider and API version.",
                 (_line("bridge_api_version_held_events", e["statuses"][st.HELD], _version_labels(provider, e))
                  for provider, listed in sorted(snapshot["api_versions"].items()) for e in listed
                  if e["statuses"].get(st.HELD))),
        *_family("bridge_lag_seconds", "gauge", "Age of the oldest change not yet delivered to Pendo.",
                 [_line("bridge_lag_seconds", snapshot["lag_seconds"])]),
        *_family("bridge_paused", "gauge", "1 while Pendo refuses the credentials and all sending is paused.",
                 [_line("bridge_paused", 1 if snapshot["paused"] else 0)]),
        *_family("bridge_track_paused", "gauge", "1 while Pendo refuses the track secret and track events are held.",
                 [_line("bridge_track_paused", 1 if snapshot["track_paused"] else 0)]),
        *_family("bridge_possible_duplicates", "gauge", "Rows re-sent after a worker died mid-flight.",
                 [_line("bridge_possible_duplicates", snapshot["possible_duplicates"])]),
        *_family("bridge_pendo_budget_requests_per_second", "gauge", "The deployment's request budget to Pendo.",
                 [_line("bridge_pendo_budget_requests_per_second", budget["requests_per_second"])]),
        *_family("bridge_pendo_requests_last_second", "gauge", "Requests sent to Pendo in the last full second.",
                 [_line("bridge_pendo_requests_last_second", budget["requests_last_second"])]),
        *_family("bridge_pendo_requests_total", "counter", "Requests sent to Pendo, by endpoint.",
                 (_line("bridge_pendo_requests_total", e["requests_total"], {"endpoint": name})
                  for name, e in sorted(endpoints.items()))),
        *_family("bridge_pendo_wait_seconds", "gauge", "Remaining shared wait (Retry-After, backoff) per endpoint.",
                 (_line("bridge_pendo_wait_seconds", e["wait_seconds"], {"endpoint": name})
                  for name, e in sorted(endpoints.items()))),
        *_family("bridge_source_rows", "gauge", "Metadata field values and track events by source and state.",
                 (_line("bridge_source_rows", n, {"source": source, "outbox": box, "state": s})
                  for source, boxes in sorted(snapshot["sources"].items())
                  for box, states in sorted(boxes.items()) for s, n in sorted(states.items()))),
        *_family("bridge_key_requests_total", "counter", "HTTP API requests per key: stored, rate-limited (429), "
                 "refused as invalid (400).",
                 (_line("bridge_key_requests_total", key[counter], {"key": name, "outcome": outcome})
                  for name, key in sorted(snapshot["api_keys"].items())
                  for outcome, counter in (("stored", "requests"), ("limited", "limited"), ("rejected", "rejected")))),
        *_family("bridge_key_items_total", "counter", "Items the HTTP API received per key: accepted or duplicates.",
                 (_line("bridge_key_items_total", key[outcome], {"key": name, "outcome": outcome})
                  for name, key in sorted(snapshot["api_keys"].items()) for outcome in ("accepted", "duplicates"))),
        *_family("bridge_key_last_used_timestamp_seconds", "gauge", "When each HTTP API key last sent a request.",
                 (_line("bridge_key_last_used_timestamp_seconds", key["last_used_at"], {"key": name})
                  for name, key in sorted(snapshot["api_keys"].items()) if key["last_used_at"] is not None)),
    ]
    return "\n".join(lines) + "\n"
