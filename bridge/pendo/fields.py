"""The Pendo custom fields a mapping set writes, compared with the fields Pendo has (`check --pendo`, `pendo setup`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.mapping.fieldtypes import MAPPING_TYPES, PENDO_TYPES
from bridge.mapping.loader import MappingSet

KINDS = ("account", "visitor")


@dataclass(frozen=True)
class ExpectedField:
    """A custom field some rule writes, with the type the mapping sends (text, number, boolean, date)."""

    kind: str
    name: str
    type: str
    rules: tuple[str, ...]

    @property
    def pendo_type(self) -> str:
        return PENDO_TYPES[self.type]


@dataclass(frozen=True)
class FieldReport:
    """How the expected fields compare with Pendo's schema."""

    missing: list[ExpectedField]
    mismatched: list[tuple[ExpectedField, str]]  # (field, Pendo's type in mapping words)
    conflicts: list[str]  # fields two rules send with different types

    @property
    def ok(self) -> bool:
        return not (self.missing or self.mismatched or self.conflicts)


def expected_fields(mappings: MappingSet) -> tuple[list[ExpectedField], list[str]]:
    """Every (kind, field) the rules write, and a message for each field rules disagree on the type of."""
    found: dict[tuple[str, str], ExpectedField] = {}
    conflicts: list[str] = []
    for rule in mappings.rules:
        for kind, fields in (("account", rule.account), ("visitor", rule.visitor)):
            for name in fields:
                kind_type = rule.types.get(name, "text")
                known = found.get((kind, name))
                if known is None:
                    found[(kind, name)] = ExpectedField(kind, name, kind_type, (rule.name,))
                    continue
                if known.type != kind_type:
                    conflicts.append(f"{kind} field {name!r}: rule {rule.name} sends {kind_type}, "
                                     f"rule {known.rules[0]} sends {known.type}")
                found[(kind, name)] = ExpectedField(kind, name, known.type, (*known.rules, rule.name))
    return list(found.values()), conflicts


def _pendo_type(descriptor: Mapping[str, Any]) -> str:
    raw = str(descriptor.get("type", "")).lower()
    return MAPPING_TYPES.get(raw, raw or "unknown")


def compare(mappings: MappingSet, schemas: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> FieldReport:
    """Compare with Pendo's `custom` fields per kind (`PendoClient.get_schema`); deleted fields count as missing.

    Pendo may lower-case names, so names are compared case-insensitively.
    """
    fields, conflicts = expected_fields(mappings)
    missing: list[ExpectedField] = []
    mismatched: list[tuple[ExpectedField, str]] = []
    for wanted in fields:
        present = {name.lower(): spec for name, spec in schemas.get(wanted.kind, {}).items()
                   if not spec.get("isDeleted")}
        descriptor = present.get(wanted.name.lower())
        if descriptor is None:
            missing.append(wanted)
        elif _pendo_type(descriptor) != wanted.type:
            mismatched.append((wanted, _pendo_type(descriptor)))
    return FieldReport(missing, mismatched, conflicts)


def kinds_used(mappings: MappingSet) -> list[str]:
    """The metadata kinds some rule writes."""
    fields, _ = expected_fields(mappings)
    return [kind for kind in KINDS if any(f.kind == kind for f in fields)]
