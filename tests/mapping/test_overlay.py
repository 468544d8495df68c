"""Overlay folders, field renames, declared and inferred types, line numbers, the JSON Schema."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from bridge.errors import MappingError
from bridge.mapping import load_mappings
from bridge.mapping.loader import check_mappings
from tests.conftest import ROOT

SHIPPED = ROOT / "mappings"


def folder(tmp_path: Path, name: str, **files: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    for file, text in files.items():
        (path / file).write_text(textwrap.dedent(text))
    return path


def test_overlay_rule_of_the_same_name_replaces_the_shipped_one(tmp_path: Path) -> None:
    ours = folder(tmp_path, "ours", **{"a.yaml": """
        rules:
          - name: invoice-payment-failed
            provider: stripe
            events: [invoice.payment_failed]
            account: {delinquent: "'yes'"}
        """})
    mappings = load_mappings(SHIPPED, ours)
    names = [rule.name for rule in mappings.rules]
    assert names == [rule.name for rule in load_mappings(SHIPPED).rules]  # same place, no duplicate
    (rule,) = [r for r in mappings.rules if r.name == "invoice-payment-failed"]
    assert rule.track is None and rule.types == {"delinquent": "text"}


def test_overlay_disables_and_adds_rules_and_tables(tmp_path: Path) -> None:
    ours = folder(tmp_path, "ours", **{"a.yaml": """
        lookups: {tiers: {pro_monthly: gold}}
        rules:
          - {name: subscription-canceled, enabled: false}
          - name: tier
            provider: stripe
            events: ["customer.subscription.*"]
            account: {tier: "lookup('tiers', stripe_plan(object))"}
        """})
    mappings = load_mappings(SHIPPED, ours)
    names = [rule.name for rule in mappings.rules]
    assert "subscription-canceled" not in names and names[-1] == "tier"
    assert mappings.lookups["tiers"] == {"pro_monthly": "gold"}
    assert mappings.version != load_mappings(SHIPPED).version


def test_field_names_rename_output_fields_and_their_types(tmp_path: Path) -> None:
    ours = folder(tmp_path, "ours", **{"names.yaml": "field_names: {billing_plan: plan, mrr: arr_monthly}\n"})
    (rule, *_) = load_mappings(SHIPPED, ours).rules
    assert "plan" in rule.account and "billing_plan" not in rule.account
    assert rule.types["arr_monthly"] == "number"


def test_duplicate_names_within_one_folder_are_refused(tmp_path: Path) -> None:
    rule = "rules:\n  - {name: x, provider: stripe, events: [a]}\n"
    base = folder(tmp_path, "base", **{"a.yaml": rule, "b.yaml": rule})
    _, problems = check_mappings(base)
    assert [(p.file, p.line, p.rule) for p in problems] == [(str(base / "b.yaml"), 2, "rule x")]
    assert "duplicate rule name (also in a.yaml)" in problems[0].message


def test_problems_name_the_line_of_the_key(tmp_path: Path) -> None:
    base = folder(tmp_path, "base", **{"m.yaml": """
        rules:
          - name: r1
            provider: stripe
            events: [invoice.paid]
            account:
              ok: "object.id"
              bad: "nope(object)"
            types: {ok: colour}
        """})
    _, problems = check_mappings(base)
    assert [str(p).replace(str(base) + "/", "") for p in problems] == [
        "m.yaml:8: rule r1: account.bad: unknown function 'nope'",
        "m.yaml:9: rule r1: types.ok: must be one of text, number, boolean, date",
    ]


def test_yaml_syntax_error_names_its_line(tmp_path: Path) -> None:
    base = folder(tmp_path, "base", **{"m.yaml": "rules:\n  - name: [\n"})
    with pytest.raises(MappingError, match=r"m.yaml:\d+: -: cannot be read as YAML"):
        load_mappings(base)


def test_python_tags_are_refused_not_constructed(tmp_path: Path) -> None:
    base = folder(tmp_path, "base", **{"m.yaml": "rules: !!python/object/apply:os.system ['true']\n"})
    with pytest.raises(MappingError, match="cannot be read as YAML"):
        load_mappings(base)


def test_loader_ignores_the_tests_folder(tmp_path: Path) -> None:
    base = folder(tmp_path, "base", **{"m.yaml": "rules: []\n"})
    (base / "tests").mkdir()
    (base / "tests" / "t.yaml").write_text("tests: []\nnot_a_mapping_key: 1\n")
    assert load_mappings(base).rules == ()


@pytest.mark.parametrize(("source", "kind"), [
    ('"money(object.amount, object.currency)"', "number"), ('"stripe_mrr(object)"', "number"),
    ('"date(object.created)"', "date"), ("true", "boolean"), ("3", "number"), ('"object.a == 1"', "boolean"),
    ('"coalesce(object.x, date(object.y))"', "date"), ('"upper(object.currency)"', "text"),
    ('"object.status"', "text"),
])
def test_field_types_are_inferred_from_the_expression(tmp_path: Path, source: str, kind: str) -> None:
    base = folder(tmp_path, "base", **{"m.yaml": f"rules:\n  - {{name: r, provider: stripe, events: [a], "
                                                   f"account: {{f: {source}}}}}\n"})
    (rule,) = load_mappings(base).rules
    assert rule.types == {"f": kind}


def test_shipped_mapping_validates_against_the_published_schema() -> None:
    schema = json.loads((SHIPPED / "schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    document = yaml.safe_load((SHIPPED / "stripe.yaml").read_text())
    jsonschema.Draft202012Validator(schema).validate(document)
    assert (SHIPPED / "stripe.yaml").read_text().startswith("# yaml-language-server: $schema=schema.json")


def test_schema_refuses_what_the_loader_refuses() -> None:
    validator = jsonschema.Draft202012Validator(json.loads((SHIPPED / "schema.json").read_text()))
    assert not validator.is_valid({"rules": [{"name": "x", "provider": "stripe", "events": ["a"], "acount": {}}]})
    assert not validator.is_valid({"rules": [{"name": "x", "provider": "stripe"}]})
    assert validator.is_valid({"rules": [{"name": "x", "enabled": False}], "field_names": {"a": "b"}})
