"""Load and validate the YAML mapping files into a frozen `MappingSet`, compiling every expression once.

A mapping set is a base folder (the shipped `mappings/`) optionally extended by an overlay folder: an
overlay rule with the name of a base rule replaces it, `enabled: false` switches a rule off, overlay
lookup tables replace base tables of the same name, and `field_names:` renames output fields.

Every problem in every file is collected as a `Problem` (file, line, rule, message); `load_mappings`
raises them as one `MappingError`, a line per problem: `"{file}:{line}: {rule}: {message}"`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jinja2 import TemplateError, meta, nodes

from bridge.errors import MappingError
from bridge.mapping.bounds import over_bounds
from bridge.mapping.document import Document, DocumentError, read_document
from bridge.mapping.fieldtypes import DEFAULT_TYPE, PENDO_TYPES, infer_type, literal_type
from bridge.mapping.functions import FUNCTION_NAMES, REPLACEMENTS, is_function
from bridge.mapping.sandbox import Expression, SandboxEnvironment, compile_expression, forbidden_names, parse

CONTEXT_NAMES = (
    "provider", "source", "kind", "facts", "before", "lifecycle",
    "event", "object", "previous", "event_type", "customer", "subscription", "identity", "livemode",
    "connect_account", "account", "prior",
)
KNOWN_NAMES = frozenset(CONTEXT_NAMES) | frozenset(FUNCTION_NAMES)
REQUIRED_KEYS = ("name", "provider", "events")
RULE_KEYS = frozenset(REQUIRED_KEYS) | {
    "when", "connect", "account_id", "visitor_id", "account", "visitor", "track", "types", "enabled",
}
TOP_LEVEL_KEYS = frozenset({"rules", "lookups", "field_names"})
TRACK_KEYS = frozenset({"event", "when", "properties"})
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
GLOB = re.compile(r"^[A-Za-z0-9_.*?\[\]!-]+$")
TRACK_EVENT_MAX = 200
QUOTE_MAX = 80  # characters of an expression quoted in a problem


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a mapping file."""

    file: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule}: {self.message}"


@dataclass(frozen=True)
class Track:
    """The one track event a rule may send."""

    event: str
    when: Expression | None
    properties: Mapping[str, Expression]


@dataclass(frozen=True)
class Rule:
    """One validated, compiled mapping rule; `types` gives each account/visitor field's type (text, ...)."""

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
    types: Mapping[str, str] = field(default_factory=dict)
    enabled: bool = True


@dataclass(frozen=True)
class MappingSet:
    """All rules of a mapping folder (and overlay), its lookup tables and a version naming its exact contents."""

    rules: tuple[Rule, ...]
    lookups: Mapping[str, Mapping[Any, Any]]
    version: str
    field_names: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[Problem, ...] = ()  # what still works but has a better way, e.g. a provider's own function


class _Checker:
    """Validates one rule at a time, collecting problems (with their line) instead of stopping at the first."""

    def __init__(self, environment: SandboxEnvironment, lookups: Mapping[str, Any], problems: list[Problem]):
        self.environment, self.lookups, self.problems = environment, lookups, problems
        self.notes: list[Problem] = []
        self.document: Document | None = None
        self.base: tuple[Any, ...] = ()
        self.label = "-"
        self.inferred: dict[str, str] = {}

    def fail(self, reason: str, *where: Any) -> None:
        """Record a problem; `reason` starts with the key path it is about, `where` locates its line."""
        assert self.document is not None
        line = self.document.line((*self.base, *where))
        self.problems.append(Problem(self.document.label, line, self.label, reason))

    def expression(self, label: str, source: Any, where: tuple[Any, ...], *,
                   literal_ok: bool = True) -> Expression | None:
        """Compile `source` (a string) or keep a non-string scalar as a literal; never evaluates it."""
        if not isinstance(source, str):
            if literal_ok and (source is None or isinstance(source, bool | int | float)):
                self._infer(label, literal_type(source))
                return Expression(source)
            self.fail(f"{label}: must be {'an expression or a scalar' if literal_ok else 'an expression'}", *where)
            return None
        try:
            tree = parse(self.environment, source)
            reasons = self._static_problems(tree)
            self._replacements(label, tree, where)
            if not reasons:
                self._infer(label, infer_type(tree))
                return compile_expression(self.environment, source)
        except TemplateError as exc:
            reasons = [f"invalid expression {_quoted(source)}: {exc.message or exc}"]
        except (RecursionError, SyntaxError, MemoryError):  # Python's own limits, met compiling the expression
            reasons = [f"invalid expression {_quoted(source)}: too large or nested too deeply to compile"]
        for reason in reasons:
            self.fail(f"{label}: {reason}", *where)
        return None

    def _replacements(self, label: str, tree: nodes.Template, where: tuple[Any, ...]) -> None:
        """Note each call of a provider's own function, naming its replacement that works for every provider."""
        assert self.document is not None
        called = {call.node.name for call in tree.find_all(nodes.Call) if isinstance(call.node, nodes.Name)}
        for name in sorted(called & set(REPLACEMENTS)):
            line = self.document.line((*self.base, *where))
            message = f"{label}: {name}() still works, for one provider only; for every provider: {REPLACEMENTS[name]}"
            self.notes.append(Problem(self.document.label, line, self.label, message))

    def _infer(self, label: str, kind: str | None) -> None:
        if kind is not None:
            self.inferred[label] = kind

    def _static_problems(self, tree: nodes.Template) -> list[str]:
        reasons = [f"access to {name!r} is not allowed (it would leave the sandbox)" for name in forbidden_names(tree)]
        reasons += [f"{reason}: every event would fail" for reason in over_bounds(tree)]
        called = {call.node.name for call in tree.find_all(nodes.Call) if isinstance(call.node, nodes.Name)}
        for name in sorted(meta.find_undeclared_variables(tree) - KNOWN_NAMES):
            kind = "function" if name in called else "name"
            reasons.append(f"unknown {kind} {name!r}")
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
        key = tuple(label.split("."))
        if not isinstance(value, dict):
            self.fail(f"{label}: must be a mapping of field names to expressions", *key)
            return {}
        compiled = {}
        for name, source in value.items():
            if not isinstance(name, str) or not pattern.match(name):
                self.fail(f"{label}: invalid name {name!r} (must match {pattern.pattern})", *key, name)
                continue
            expression = self.expression(f"{label}.{name}", source, (*key, name))
            if expression is not None:
                compiled[name] = expression
        return compiled

    def events(self, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            self.fail("events: must be a non-empty list of event type globs", "events")
            return ()
        bad = [index for index, glob in enumerate(value) if not isinstance(glob, str) or not GLOB.match(glob)]
        for index in bad:
            self.fail(f"events: invalid glob {value[index]!r}", "events", index)
        return tuple(glob for index, glob in enumerate(value) if index not in bad)

    def optional_expression(self, raw: dict[str, Any], key: str, default: str | None = None) -> Expression | None:
        source = raw.get(key, default)
        return None if source is None else self.expression(key, source, (key,), literal_ok=False)

    def track(self, value: Any) -> Track | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.fail("track: must be a mapping", "track")
            return None
        for key in sorted(set(value) - TRACK_KEYS, key=str):
            self.fail(f"track: unknown key {key!r}", "track", key)
        event = value.get("event")
        if not isinstance(event, str) or not event.strip():
            self.fail("track.event: must be a non-empty event name", "track", "event")
        elif len(event) > TRACK_EVENT_MAX:
            self.fail(f"track.event: longer than {TRACK_EVENT_MAX} characters", "track", "event")
        when = value.get("when")
        when_expression = None if when is None else self.expression(
            "track.when", when, ("track", "when"), literal_ok=False)
        properties = self.fields("track.properties", value.get("properties"), PROPERTY_NAME)
        return Track(str(event), when_expression, properties)

    def rule(self, document: Document, index: int, raw: Any) -> Rule | None:
        """Validate and compile one rule; None when it has problems (they are recorded)."""
        self.document, self.base, self.label, self.inferred = document, ("rules", index), f"rule #{index + 1}", {}
        if not isinstance(raw, dict):
            self.fail("must be a mapping")
            return None
        if isinstance(raw.get("name"), str) and raw["name"].strip():
            self.label = f"rule {raw['name']}"
        before = len(self.problems)
        enabled = self._flag(raw, "enabled", True)
        if not enabled and isinstance(raw.get("name"), str):
            return Rule(name=raw["name"], provider="", events=(), file=document.path.name, enabled=False)
        self._keys(raw)
        rule = Rule(
            name=str(raw.get("name")), provider=str(raw.get("provider")),
            events=self.events(raw.get("events")), file=document.path.name,
            when=self.optional_expression(raw, "when"), connect=self._flag(raw, "connect", False),
            account_id=self.optional_expression(raw, "account_id", "identity.account_id"),
            visitor_id=self.optional_expression(raw, "visitor_id", "identity.visitor_id"),
            account=self.fields("account", raw.get("account"), FIELD_NAME),
            visitor=self.fields("visitor", raw.get("visitor"), FIELD_NAME),
            track=self.track(raw.get("track")),
        )
        rule = replace(rule, types=self._types(raw, rule))
        return rule if len(self.problems) == before else None

    def _types(self, raw: dict[str, Any], rule: Rule) -> dict[str, str]:
        declared = raw.get("types") or {}
        if not isinstance(declared, dict):
            self.fail("types: must be a mapping of field names to text, number, boolean or date", "types")
            declared = {}
        names = [*rule.account, *rule.visitor]
        for name, kind in declared.items():
            if name not in names:
                self.fail(f"types: {name!r} is not an account or visitor field of this rule", "types", name)
            elif kind not in PENDO_TYPES:
                self.fail(f"types.{name}: must be one of {', '.join(PENDO_TYPES)}", "types", name)
        inferred = {label.split(".", 1)[1]: kind for label, kind in self.inferred.items()
                    if label.startswith(("account.", "visitor."))}
        return {name: declared.get(name) or inferred.get(name) or DEFAULT_TYPE for name in names}

    def _keys(self, raw: dict[str, Any]) -> None:
        for key in REQUIRED_KEYS:
            if not isinstance(raw.get(key), str if key != "events" else list):
                self.fail(f"{key}: required" + ("" if key == "events" else " (a string)"), key)
        for key in sorted(set(raw) - RULE_KEYS, key=str):
            self.fail(f"unknown key {key!r}", key)

    def _flag(self, raw: dict[str, Any], key: str, default: bool) -> bool:
        value = raw.get(key, default)
        if not isinstance(value, bool):
            self.fail(f"{key}: must be true or false", key)
            return default
        return value


def _quoted(source: str) -> str:
    """An expression as problems quote it: shortened, so that a huge one does not flood the output."""
    return repr(source) if len(source) <= QUOTE_MAX else repr(source[:QUOTE_MAX]) + "…"


def _problem(document: Document, where: tuple[Any, ...], message: str, rule: str = "-") -> Problem:
    return Problem(document.label, document.line(where), rule, message)


def mapping_files(directory: Path) -> list[Path]:
    """The *.yaml / *.yml files directly in `directory`, sorted by name (sub-folders such as tests/ are not read)."""
    if not directory.is_dir():
        raise MappingError(f"mappings folder {directory} is not a directory of mapping files "
                           "(BRIDGE_MAPPINGS_DIR / BRIDGE_MAPPINGS_OVERLAY_DIR)")
    files = sorted(path for path in directory.iterdir() if path.suffix in (".yaml", ".yml") and path.is_file())
    if not files:
        raise MappingError(f"mappings folder {directory} has no *.yaml or *.yml mapping files "
                           "(BRIDGE_MAPPINGS_DIR / BRIDGE_MAPPINGS_OVERLAY_DIR)")
    return files


def _read(path: Path, problems: list[Problem]) -> Document:
    try:
        document = read_document(path)
    except DocumentError as exc:
        problems.append(Problem(str(path), exc.line, "-", str(exc)))
        return Document(path, {})
    if document.data is None:
        return replace(document, data={})
    if not isinstance(document.data, dict):
        problems.append(_problem(document, (), "must be a mapping with `rules:` (and optionally `lookups:`)"))
        return replace(document, data={})
    for key in sorted(set(document.data) - TOP_LEVEL_KEYS, key=str):
        problems.append(_problem(document, (key,), f"unknown top-level key {key!r}"))
    return document


def _tables(documents: list[Document], problems: list[Problem]) -> dict[str, dict[Any, Any]]:
    tables: dict[str, dict[Any, Any]] = {}
    for document in documents:
        found = document.data.get("lookups") or {}
        if not isinstance(found, dict):
            problems.append(_problem(document, ("lookups",), "lookups: must be a mapping of table names to mappings"))
            continue
        for name, table in found.items():
            if not isinstance(table, dict) or not isinstance(name, str):
                problems.append(_problem(document, ("lookups", name), f"lookups: table {name!r} must be a mapping"))
            elif name in tables:
                problems.append(_problem(document, ("lookups", name), f"lookups: table {name!r} is defined twice"))
            else:
                tables[name] = dict(table)
    return tables


def _field_names(documents: list[Document], problems: list[Problem]) -> dict[str, str]:
    renames: dict[str, str] = {}
    for document in documents:
        found = document.data.get("field_names") or {}
        if not isinstance(found, dict):
            problems.append(_problem(document, ("field_names",), "field_names: must map field names to new names"))
            continue
        for old, new in found.items():
            if not all(isinstance(name, str) and FIELD_NAME.match(name) for name in (old, new)):
                message = f"field_names: {old!r}: {new!r} must both match {FIELD_NAME.pattern}"
                problems.append(_problem(document, ("field_names", old), message))
            else:
                renames[old] = new
    return renames


def _rules(documents: list[Document], checker: _Checker) -> list[Rule]:
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for document in documents:
        raw_rules = document.data.get("rules") or []
        if not isinstance(raw_rules, list):
            checker.problems.append(_problem(document, ("rules",), "rules: must be a list"))
            continue
        for index, raw in enumerate(raw_rules):
            rule = checker.rule(document, index, raw)
            if rule and rule.name in seen:
                checker.fail(f"duplicate rule name (also in {seen[rule.name]})", "name")
            elif rule:
                seen[rule.name] = document.path.name
                rules.append(rule)
    return rules


def _overlaid(base: list[Rule], overlay: list[Rule]) -> list[Rule]:
    """Base rules with same-named overlay rules put in their place, then the overlay's new rules."""
    by_name = {rule.name: rule for rule in overlay}
    merged = [by_name.pop(rule.name, rule) for rule in base]
    merged += [rule for rule in overlay if rule.name in by_name]
    return [rule for rule in merged if rule.enabled]


def _renamed(rule: Rule, renames: Mapping[str, str]) -> Rule:
    if not renames:
        return rule
    account = {renames.get(name, name): value for name, value in rule.account.items()}
    visitor = {renames.get(name, name): value for name, value in rule.visitor.items()}
    types = {renames.get(name, name): kind for name, kind in rule.types.items()}
    return replace(rule, account=account, visitor=visitor, types=types)


def _version(folders: Sequence[list[Path]]) -> str:
    digest = hashlib.sha256()
    for layer, files in enumerate(folders):
        for path in files:
            digest.update(f"{layer}:".encode() + path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def check_mappings(directory: Path, overlay: Path | None = None) -> tuple[MappingSet | None, list[Problem]]:
    """Validate the base folder and the optional overlay: the mapping set (None when there are problems) and
    every problem found. Raises MappingError only when a folder cannot be read at all."""
    folders = [mapping_files(Path(directory))] + ([mapping_files(Path(overlay))] if overlay else [])
    problems: list[Problem] = []
    layers = [[_read(path, problems) for path in files] for files in folders]
    tables: dict[str, dict[Any, Any]] = {}
    renames: dict[str, str] = {}
    for documents in layers:
        tables.update(_tables(documents, problems))
        renames.update(_field_names(documents, problems))
    checker = _Checker(SandboxEnvironment(is_function), tables, problems)
    rules: list[Rule] = []
    for documents in layers:
        rules = _overlaid(rules, _rules(documents, checker))
    if problems:
        return None, problems
    final = tuple(_renamed(rule, renames) for rule in rules)
    return MappingSet(rules=final, lookups=tables, version=_version(folders), field_names=renames,
                      notes=tuple(checker.notes)), []


def load_mappings(directory: Path, overlay: Path | None = None) -> MappingSet:
    """Load every *.yaml / *.yml file of `directory` (sorted by name), then of `overlay`; raise MappingError
    naming every problem."""
    mappings, problems = check_mappings(directory, overlay)
    if mappings is None:
        raise MappingError("\n".join(map(str, problems)))
    return mappings
