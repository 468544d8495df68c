"""The type of each imported column's Pendo field: `--type` first, then Pendo's schema, then the mappings.

Pendo's schema (`GET /api/v1/metadata/schema/{kind}`) is the authority; it is kept in `controls` for an hour, so
the import run after a nightly one makes no Pendo call at all, and an earlier copy stands in when Pendo cannot
be reached. A column whose type nobody knows is text from a CSV file and keeps its own type from JSON or SQL.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.errors import BridgeError, ConfigError, MappingError, PendoError
from bridge.imports.cells import TYPES
from bridge.mapping import load_mappings
from bridge.mapping.fieldtypes import MAPPING_TYPES
from bridge.pendo import fields as pendo_fields
from bridge.settings import Settings
from bridge.store.store import Store

log = logging.getLogger("bridge.import")

CACHE = "pendo_schema:{kind}"  # a `controls` row: {"fetched_at": …, "fields": {name: type}}
CACHE_SECONDS = 3600.0
FETCH_TRIES = 3


class ImportSetupError(ConfigError):
    """The import cannot start: a column, an option or the source is not usable (the message says which)."""


@dataclass
class FieldTypes:
    """Known types by field name, and where they came from."""

    types: dict[str, str] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)  # name → "--type", "Pendo", "mappings"
    pendo_fields: set[str] | None = None  # the fields Pendo has; None when its schema was not read
    pendo_problem: str | None = None  # why Pendo's schema could not be read (or only an old copy)

    def of(self, name: str) -> str | None:
        return self.types.get(name)

    def add(self, found: Mapping[str, str], origin: str) -> None:
        for name, kind in found.items():
            if name not in self.types:
                self.types[name], self.origin[name] = kind, origin


def explicit_types(pairs: Iterable[str]) -> dict[str, str]:
    """`--type NAME=TYPE` options as a dict; ImportSetupError naming a malformed one."""
    found = {}
    for pair in pairs:
        name, _, kind = pair.partition("=")
        if not name or kind not in TYPES:
            raise ImportSetupError(f"--type {pair}: give NAME=TYPE with TYPE one of {', '.join(TYPES)}")
        found[name] = kind
    return found


def mapping_types(settings: Settings, kind: str) -> dict[str, str]:
    """The types the mappings send to this kind's fields; empty when the mappings do not load."""
    try:
        mappings = load_mappings(settings.mappings_dir, settings.mappings_overlay_dir)
    except MappingError as exc:
        log.warning("the mappings do not load: their field types are not used", extra={"reason": str(exc)})
        return {}
    found, _ = pendo_fields.expected_fields(mappings)
    return {f.name: f.type for f in found if f.kind == kind}


@dataclass
class PendoSchema:
    """Pendo's custom fields of one kind, read through the cache in `controls`."""

    store: Store
    fetch: Callable[[str], dict[str, dict[str, Any]]]  # PendoClient.get_schema
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], object] = time.sleep

    def types(self, kind: str) -> tuple[dict[str, str] | None, str | None]:
        """Field name → type (text, number, boolean, date; None for another Pendo type), or None and the reason."""
        name = CACHE.format(kind=kind)
        cached = _cached(self.store.control(name))
        if cached is not None and self.clock() - cached[0] < CACHE_SECONDS:
            return cached[1], None
        try:
            found = {field_name: MAPPING_TYPES.get(str(spec.get("type", "")).lower(), "")
                     for field_name, spec in self._fetch(kind).items() if not spec.get("isDeleted")}
        except (PendoError, BridgeError) as exc:
            if cached is not None:
                return cached[1], f"Pendo's schema could not be read ({exc}); using the copy of {_age(cached[0])}"
            return None, f"Pendo's schema could not be read: {exc}"
        self.store.set_control(name, json.dumps({"fetched_at": self.clock(), "fields": found}), self.clock())
        return found, None

    def _fetch(self, kind: str) -> dict[str, dict[str, Any]]:
        for attempt in range(1, FETCH_TRIES + 1):
            try:
                return self.fetch(kind)
            except PendoError as exc:
                if attempt == FETCH_TRIES or (exc.status is not None and exc.status < 500 and exc.status != 429):
                    raise
                self.sleep(2.0 * attempt)
        raise AssertionError("unreachable")


def _cached(raw: str | None) -> tuple[float, dict[str, str]] | None:
    try:
        value = json.loads(raw) if raw else None
        return (float(value["fetched_at"]), dict(value["fields"])) if isinstance(value, dict) else None
    except (ValueError, KeyError, TypeError):
        return None


def _age(fetched_at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(fetched_at))


def resolve(explicit: dict[str, str], pendo: dict[str, str] | None, mappings: dict[str, str],
            pendo_problem: str | None = None) -> FieldTypes:
    """The known types, in order of authority: `--type`, Pendo's schema, the mappings."""
    types = FieldTypes(pendo_fields=set(pendo) if pendo is not None else None, pendo_problem=pendo_problem)
    types.add(explicit, "--type")
    types.add({name: kind for name, kind in (pendo or {}).items() if kind}, "Pendo")
    types.add(mappings, "mappings")
    return types
