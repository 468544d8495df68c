"""Mapping tests: YAML cases next to the mappings (`<folder>/tests/*.yaml`), run by `bridge test`.

A case gives an event (a file relative to the test file — JSON, YAML, or the form body of a provider that posts
forms — or inline), the provider whose webhook carries it (`provider:`; the first registered one when left out),
optional enrichment fixtures, and the expected outcome: rules matched, operations (a subset of each operation's
values unless `exact: true`), warnings. Evaluation is the worker's own, without any I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.errors import BridgeError, EvaluationError
from bridge.mapping.document import DocumentError, read_document
from bridge.mapping.dryrun import event_file, parse_event, read_json
from bridge.mapping.evaluate import EvalOptions, evaluate
from bridge.mapping.loader import MappingSet
from bridge.mapping.operations import MetadataUpdate, Outcome, TrackEvent
from bridge.providers import Event

CASE_KEYS = frozenset({"name", "provider", "event", "customer", "enrichment", "expect"})
EXPECT_KEYS = frozenset({"matched", "skipped", "operations", "exact", "warnings"})
OPTION_KEYS = frozenset({"date_format", "track_enabled", "account_fallback", "visitor_fallback", "create_accounts"})


@dataclass
class CaseResult:
    """One case's verdict."""

    file: str
    name: str
    failures: list[str] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def test_files(folder: Path) -> list[Path]:
    """The test files of a mappings folder."""
    tests = folder / "tests"
    return sorted(p for p in tests.glob("*.y*ml") if p.is_file()) if tests.is_dir() else []


def _load(source: Any, base: Path) -> Any:
    """Inline data, or the JSON / YAML file a string names (relative to the test file)."""
    if not isinstance(source, str):
        return source
    path = base / source
    return read_json(path) if path.suffix == ".json" else read_document(path).data


def _event(source: Any, base: Path, provider: str | None) -> Event:
    """The case's event: a file's body as the provider's webhook carries it (JSON or a form), a YAML file's data,
    or inline data."""
    if isinstance(source, str) and Path(source).suffix not in (".yaml", ".yml"):
        return event_file(base / source, provider)
    data = _load(source, base)
    if not isinstance(data, dict):
        raise BridgeError("must name an event file or be an inline event")
    return parse_event(data, provider)


def _options(document: Mapping[str, Any]) -> EvalOptions:
    raw = document.get("options") or {}
    unknown = set(raw) - OPTION_KEYS
    if unknown:
        raise BridgeError(f"options: unknown key(s) {', '.join(sorted(unknown))}")
    return EvalOptions(**raw)


def run_file(path: Path, mappings: MappingSet) -> list[CaseResult]:
    """Run every case of one test file."""
    try:
        document = read_document(path).data or {}
        options = _options(document)
    except (DocumentError, BridgeError, TypeError) as exc:
        return [CaseResult(str(path), "(file)", [str(exc)])]
    cases = document.get("tests")
    if not isinstance(cases, list):
        return [CaseResult(str(path), "(file)", ["tests: must be a list of cases"])]
    return [run_case(str(path), index, raw, path.parent, mappings, options) for index, raw in enumerate(cases)]


def run_case(file: str, index: int, raw: Any, base: Path, mappings: MappingSet,
             options: EvalOptions) -> CaseResult:
    """Evaluate one case and compare with its expectations."""
    name = str(raw.get("name")) if isinstance(raw, dict) and raw.get("name") else f"case #{index + 1}"
    result = CaseResult(file, name)
    if not isinstance(raw, dict):
        result.failures.append("a case must be a mapping")
        return result
    result.failures += [f"unknown key {key!r}" for key in sorted(set(raw) - CASE_KEYS)]
    try:
        provider = raw.get("provider")
        if provider is not None and not isinstance(provider, str):
            raise BridgeError("provider: must be a provider's name")
        event = _event(raw.get("event"), base, provider)
        enrichment = dict(_load(raw.get("enrichment"), base) or {})
        if raw.get("customer") is not None:
            enrichment["customer"] = _load(raw["customer"], base)
    except (BridgeError, DocumentError, TypeError, ValueError) as exc:
        result.failures.append(f"event: {exc}")
        return result
    try:
        outcome = evaluate(mappings, event, enrichment, options)
    except EvaluationError as exc:
        result.failures.append(f"the event fails: {exc}")
        return result
    result.matched = list(outcome.matched)
    result.failures += compare(outcome, raw.get("expect") or {})
    return result


def compare(outcome: Outcome, expect: Mapping[str, Any]) -> list[str]:
    """What differs between an outcome and the expectations."""
    failures = [f"expect: unknown key {key!r}" for key in sorted(set(expect) - EXPECT_KEYS)]
    if "matched" in expect and sorted(expect["matched"] or []) != sorted(outcome.matched):
        failures.append(f"matched: expected {sorted(expect['matched'] or [])}, got {sorted(outcome.matched)}")
    for rule, reason in (expect.get("skipped") or {}).items():
        if outcome.skipped.get(rule) != reason:
            failures.append(f"skipped.{rule}: expected {reason!r}, got {outcome.skipped.get(rule)!r}")
    for text in expect.get("warnings") or []:
        if not any(text in warning for warning in outcome.warnings):
            failures.append(f"warnings: none contains {text!r} (got {outcome.warnings})")
    if "operations" in expect:
        failures += _compare_operations(outcome, expect["operations"] or [], bool(expect.get("exact")))
    return failures


def _describe(op: MetadataUpdate | TrackEvent) -> dict[str, Any]:
    if isinstance(op, MetadataUpdate):
        return {op.kind: op.id, "values": op.values}
    return {"track": op.event, "visitor": op.visitor_id, "account": op.account_id, "properties": op.properties}


def _fits(wanted: Mapping[str, Any], actual: dict[str, Any], exact: bool) -> bool:
    for key, value in wanted.items():
        if key in ("values", "properties"):
            got = actual.get(key) or {}
            if (exact and got != value) or not all(k in got and got[k] == v for k, v in (value or {}).items()):
                return False
        elif key not in actual or actual[key] != value:
            return False
    return True


def _compare_operations(outcome: Outcome, wanted: list[Any], exact: bool) -> list[str]:
    actual = [_describe(op) for op in outcome.operations]
    failures = []
    left = list(actual)
    for expected in wanted:
        found = next((op for op in left if isinstance(expected, dict) and _fits(expected, op, exact)), None)
        if found is None:
            failures.append(f"operations: no operation matches {expected} (got {actual})")
        else:
            left.remove(found)
    if exact and left and not failures:
        failures.append(f"operations: unexpected {left}")
    return failures
