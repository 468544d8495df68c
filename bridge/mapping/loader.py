"""Load and validate the YAML mapping files into a frozen `MappingSet`, compiling every expression once.

Every problem in every file is collected and raised as one `MappingError`, a line per problem, each
line `"{file}: rule {name}: {reason}"`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jinja2 import TemplateError, meta, nodes

from bridge.errors import MappingError
from bridge.mapping.functions import FUNCTION_NAMES, is_function
from bridge.mapping.sandbox import Expression, SandboxEnvironment, compile_expression, forbidden_names, parse

CONTEXT_NAMES = (
    "event", "object", "previous", "event_type", "customer", "subscription", "identity", "livemode",
    "connect_account",
)
KNOWN_NAMES = frozenset(CONTEXT_NAMES) | frozenset(FUNCTION_NAMES)
REQUIRED_KEYS = ("name", "provider", "events")
RULE_KEYS = frozenset(REQUIRED_KEYS) | {
    "when", "connect", "account_id", "visitor_id", "account", "visitor", "track",
}
TRACK_KEYS = frozenset({"event", "when", "properties"})
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
GLOB = re.compile(r"^[A-Za-z0-9_.*?\[\]!-]+$")


@dataclass(frozen=True)
class Track:
    """The one track event a rule may send."""

    event: str
    when: Expression | None
    properties: Mapping[str, Expression]


@dataclass(frozen=True)
class Rule:
    """One validated, compiled mapping rule."""

    name: str
    provider: str
    events: tuple[str, ...]
    file: str
    when: Expression | None = None
    connect: bool = False
    account_id: Expression | None = None
    visitor_id: Expression | None = None
    account: Mapping[str, Expression] = field(default_factory=dict)
    visitor: Mapping[str, Expression] = field(default_factory=dict)
    track: Track | None = None


@dataclass(frozen=True)
class MappingSet:
    """All rules of a mapping directory, its lookup tables and a version naming its exact contents."""

    rules: tuple[Rule, ...]
    lookups: Mapping[str, Mapping[Any, Any]]
    version: str


class _Checker:
    """Validates one rule at a time, collecting problems instead of stopping at the first."""

    def __init__(self, environment: SandboxEnvironment, lookups: Mapping[str, Any], problems: list[str]):
        self.environment, self.lookups, self.problems = environment, lookups, problems
        self.where = ""

    def fail(self, reason: str) -> None:
        self.problems.append(f"{self.where}: {reason}")

    def expression(self, label: str, source: Any, *, literal_ok: bool = True) -> Expression | None:
        """Compile `source` (a string) or keep a non-string scalar as a literal."""
        if not isinstance(source, str):
            if literal_ok and (source is None or isinstance(source, bool | int | float)):
                return Expression(source)
            self.fail(f"{label}: must be {'an expression or a scalar' if literal_ok else 'an expression'}")
            return None
        try:
            tree = parse(self.environment, source)
            reasons = self._static_problems(tree)
            if not reasons:
                return compile_expression(self.environment, source)
        except TemplateError as exc:
            reasons = [f"invalid expression {source!r}: {exc.message or exc}"]
        for reason in reasons:
            self.fail(f"{label}: {reason}")
        return None

    def _static_problems(self, tree: nodes.Template) -> list[str]:
        reasons = [f"access to {name!r} is not allowed" for name in forbidden_names(tree)]
        unknown = sorted(meta.find_undeclared_variables(tree) - KNOWN_NAMES)
        reasons += [f"unknown name {name!r}" for name in unknown]
        for call in tree.find_all(nodes.Call):
            table = call.args[0] if call.args else None
            named = isinstance(call.node, nodes.Name) and call.node.name == "lookup"
            if named and isinstance(table, nodes.Const) and table.value not in self.lookups:
                reasons.append(f"unknown lookup table {table.value!r}")
        return reasons

    def fields(self, label: str, value: Any, pattern: re.Pattern[str]) -> dict[str, Expression]:
        """A field → expression mapping whose names match `pattern`."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(f"{label}: must be a mapping of field names to expressions")
            return {}
        compiled = {}
        for name, source in value.items():
            if not isinstance(name, str) or not pattern.match(name):
                self.fail(f"{label}: invalid name {name!r} (must match {pattern.pattern})")
                continue
            expression = self.expression(f"{label}.{name}", source)
            if expression is not None:
                compiled[name] = expression
        return compiled

    def events(self, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            self.fail("events: must be a non-empty list of event type globs")
            return ()
        bad = [glob for glob in value if not isinstance(glob, str) or not GLOB.match(glob)]
        for glob in bad:
            self.fail(f"events: invalid glob {glob!r}")
        return tuple(glob for glob in value if glob not in bad)

    def optional_expression(
        self, raw: dict[str, Any], key: str, default: str | None = None
    ) -> Expression | None:
        source = raw.get(key, default)
        return None if source is None else self.expression(key, source, literal_ok=False)

    def track(self, value: Any) -> Track | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail("track: must be a mapping")
            return None
        for key in sorted(set(value) - TRACK_KEYS, key=str):
            self.fail(f"track: unknown key {key!r}")
        event = value.get("event")
        if not isinstance(event, str) or not event.strip():
            self.fail("track.event: must be a non-empty event name")
        when = None if value.get("when") is None else self.expression("track.when", value["when"], literal_ok=False)
        properties = self.fields("track.properties", value.get("properties"), PROPERTY_NAME)
        return Track(str(event), when, properties)

    def rule(self, file: str, index: int, raw: Any) -> Rule | None:
        """Validate and compile one rule; None when it has problems (they are recorded)."""
        self.where = f"{file}: rule #{index + 1}"
        if not isinstance(raw, dict):
            self.fail("must be a mapping")
            return None
        if isinstance(raw.get("name"), str) and raw["name"].strip():
            self.where = f"{file}: rule {raw['name']}"
        before = len(self.problems)
        self._keys(raw)
        rule = Rule(
            name=str(raw.get("name")), provider=str(raw.get("provider")),
            events=self.events(raw.get("events")), file=file,
            when=self.optional_expression(raw, "when"), connect=self._flag(raw, "connect"),
            account_id=self.optional_expression(raw, "account_id", "identity.account_id"),
            visitor_id=self.optional_expression(raw, "visitor_id", "identity.visitor_id"),
            account=self.fields("account", raw.get("account"), FIELD_NAME),
            visitor=self.fields("visitor", raw.get("visitor"), FIELD_NAME),
            track=self.track(raw.get("track")),
        )
        return rule if len(self.problems) == before else None

    def _keys(self, raw: dict[str, Any]) -> None:
        for key in REQUIRED_KEYS:
            if not isinstance(raw.get(key), str if key != "events" else list):
                self.fail(f"{key}: required" + ("" if key == "events" else " (a string)"))
        for key in sorted(set(raw) - RULE_KEYS, key=str):
            self.fail(f"unknown key {key!r}")

    def _flag(self, raw: dict[str, Any], key: str) -> bool:
        value = raw.get(key, False)
        if not isinstance(value, bool):
            self.fail(f"{key}: must be true or false")
        return value is True


def _mapping_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise MappingError(f"BRIDGE_MAPPINGS_DIR {directory} is not a directory of mapping files")
    files = sorted(path for path in directory.iterdir() if path.suffix in (".yaml", ".yml"))
    files = [path for path in files if path.is_file()]
    if not files:
        raise MappingError(f"BRIDGE_MAPPINGS_DIR {directory} has no *.yaml or *.yml mapping files")
    return files


def _read(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problems.append(f"{path.name}: cannot be read as YAML: {exc}")
        return {}
    if document is None:
        return {}
    if not isinstance(document, dict):
        problems.append(f"{path.name}: must be a mapping with `rules:` (and optionally `lookups:`)")
        return {}
    for key in sorted(set(document) - {"rules", "lookups"}, key=str):
        problems.append(f"{path.name}: unknown top-level key {key!r}")
    return document


def _lookups(documents: list[tuple[str, dict[str, Any]]], problems: list[str]) -> dict[str, dict[Any, Any]]:
    tables: dict[str, dict[Any, Any]] = {}
    for file, document in documents:
        found = document.get("lookups") or {}
        if not isinstance(found, dict):
            problems.append(f"{file}: lookups: must be a mapping of table names to mappings")
            continue
        for name, table in found.items():
            if not isinstance(table, dict) or not isinstance(name, str):
                problems.append(f"{file}: lookups: table {name!r} must be a mapping")
            elif name in tables:
                problems.append(f"{file}: lookups: table {name!r} is defined twice")
            else:
                tables[name] = dict(table)
    return tables


def _rules(documents: list[tuple[str, dict[str, Any]]], checker: _Checker) -> list[Rule]:
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for file, document in documents:
        raw_rules = document.get("rules") or []
        if not isinstance(raw_rules, list):
            checker.problems.append(f"{file}: rules: must be a list")
            continue
        for index, raw in enumerate(raw_rules):
            rule = checker.rule(file, index, raw)
            if rule and rule.name in seen:
                checker.fail(f"duplicate rule name (also in {seen[rule.name]})")
            elif rule:
                seen[rule.name] = file
                rules.append(rule)
    return rules


def _version(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def load_mappings(directory: Path) -> MappingSet:
    """Load every *.yaml / *.yml file of `directory` (sorted by name); raise MappingError on any problem."""
    files = _mapping_files(Path(directory))
    problems: list[str] = []
    documents = [(path.name, _read(path, problems)) for path in files]
    lookups = _lookups(documents, problems)
    checker = _Checker(SandboxEnvironment(is_function), lookups, problems)
    rules = _rules(documents, checker)
    if problems:
        raise MappingError("\n".join(problems))
    return MappingSet(rules=tuple(rules), lookups=lookups, version=_version(files))
