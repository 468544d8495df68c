"""The Mappings page: the files the service loaded, what `bridge check` says of the files now, and `bridge try` on a
stored event or pasted JSON against the loaded mappings (nothing is sent)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError, MappingError, PayloadError
from bridge.mapping import MappingSet
from bridge.mapping.dryrun import DryRun, dry_run, parse_event
from bridge.mapping.loader import Rule, check_mappings, mapping_files
from bridge.providers import Event
from bridge.settings import Settings
from bridge.store import links
from bridge.store.db import reading
from bridge.store.store import Store, event_from_row
from bridge.web.admin.events import find
from bridge.worker.enrichment import cached
from bridge.worker.mapper import eval_options


@dataclass
class MappingsView:
    loaded_version: str | None
    load_error: str | None
    rules: tuple[Rule, ...]
    files: list[tuple[str, Path]] = field(default_factory=list)  # (folder role, file)
    disk_version: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def changed_on_disk(self) -> bool:
        return self.disk_version is not None and self.disk_version != self.loaded_version


Checked = tuple[str | None, list[str]]  # the version of the files on disk (None with problems), the problems


class CheckCache:
    """`bridge check`'s answer for the files as they are, computed again only when a file changed (it takes ~0.2 s)."""

    def __init__(self) -> None:
        self._key: tuple[tuple[str, int, int], ...] | None = None
        self._answer: Checked = (None, [])
        self._lock = threading.Lock()

    def check(self, settings: Settings, files: list[Path]) -> Checked:
        key = tuple((str(path), path.stat().st_mtime_ns, path.stat().st_size) for path in files)
        with self._lock:
            if key != self._key:
                checked, problems = check_mappings(settings.mappings_dir, settings.mappings_overlay_dir)
                self._key, self._answer = key, (checked.version if checked else None, [str(p) for p in problems])
            return self._answer


def load(settings: Settings, loaded: MappingSet | None, load_error: str | None, cache: CheckCache) -> MappingsView:
    """What the service runs with, and `bridge check` on the files as they are now."""
    view = MappingsView(loaded.version if loaded else None, load_error, loaded.rules if loaded else ())
    folders = [("base", settings.mappings_dir)] + ([("overlay", settings.mappings_overlay_dir)]
                                                    if settings.mappings_overlay_dir else [])
    try:
        view.files = [(role, path) for role, folder in folders for path in mapping_files(Path(folder))]
        view.disk_version, view.problems = cache.check(settings, [path for _, path in view.files])
    except (MappingError, OSError) as exc:
        view.problems = [str(exc)]
    return view


class TryError(Exception):
    """The dry run cannot start: no such stored event, or the JSON is not an event."""


def _json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise TryError(f"the {what} is not JSON: {exc}") from None


def stored_event(store: Store, provider: str, event_id: str) -> tuple[Event, dict[str, Any]]:
    """A stored event and its enrichment as the worker would see it now, from the database only."""
    row = find(store.engine, provider, event_id)
    if row is None:
        raise TryError(f"no stored event {provider} {event_id}")
    if row["payload"] is None:
        raise TryError(f"the payload of {event_id} was deleted after BRIDGE_RETENTION_DAYS: paste the event instead")
    event = event_from_row(row)
    enrichment = cached(store).enrich(event, fetch=False)
    with reading(store.engine) as connection:
        link = links.linked_account(connection, event.provider, event.customer_id)
    return event, {**enrichment, "link": link} if link else enrichment


def pasted_event(event_text: str, customer_text: str, provider: str | None = None) -> tuple[Event, dict[str, Any]]:
    """A pasted event, as `provider`'s webhook sends it (the first registered provider when None; its signature is
    not checked: an operator chose it), and an optional pasted customer. Text that looks like JSON must be a JSON
    object; other text is handed to the provider as it is (a form body)."""
    if event_text.lstrip()[:1] in ("{", "["):
        if not isinstance(_json(event_text, "event"), dict):
            raise TryError("the event must be a JSON object")
    try:
        event = parse_event(event_text.strip().encode(), provider)
    except (PayloadError, ConfigError) as exc:
        raise TryError(str(exc)) from None
    enrichment = {"customer": _json(customer_text, "customer")} if customer_text.strip() else {}
    return event, enrichment


def try_event(settings: Settings, mappings: MappingSet, event: Event, enrichment: dict[str, Any],
              now_ms: int) -> DryRun:
    """What `bridge try` shows: track events included even when the service would not send them (noted)."""
    options = replace(eval_options(settings), track_enabled=True)
    run = dry_run(mappings, event, enrichment, settings, options, now_ms)
    run.notes.append(f"mappings version {mappings.version}; nothing was sent")
    return run
