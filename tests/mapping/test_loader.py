import re
import textwrap

import pytest

from bridge.errors import MappingError
from bridge.mapping import MappingSet, load_mappings

RULE = """
rules:
  - name: r1
    provider: stripe
    events: ["customer.subscription.*"]
    account: {billing_status: "object.status"}
"""


def write(directory, name, text):
    (directory / name).write_text(textwrap.dedent(text))
    return directory


def load_problems(tmp_path, text):
    """The problems without their folder and line numbers ("m.yaml: rule r1: ...")."""
    write(tmp_path, "m.yaml", text)
    with pytest.raises(MappingError) as caught:
        load_mappings(tmp_path)
    message = str(caught.value).replace(f"{tmp_path}/", "")
    return re.sub(r":\d+: (-: )?", ": ", message)


def rule(**fields):
    body = {"name": "r1", "provider": "stripe", "events": '["invoice.paid"]', **fields}
    lines = "".join(f"    {key}: {value}\n" for key, value in body.items() if value is not None)
    return "rules:\n  - " + lines.lstrip()


def test_load_mappings_compiles_rules_with_defaults(tmp_path):
    mappings = load_mappings(write(tmp_path, "m.yaml", RULE))
    assert isinstance(mappings, MappingSet)
    (only,) = mappings.rules
    assert (only.name, only.provider, only.events, only.file, only.connect) == (
        "r1", "stripe", ("customer.subscription.*",), "m.yaml", False)
    assert only.account_id.source == "identity.account_id"
    assert only.visitor_id.source == "identity.visitor_id"
    assert list(only.account) == ["billing_status"]


def test_load_mappings_reads_all_yaml_files_sorted_by_name(tmp_path):
    write(tmp_path, "b.yml", RULE.replace("r1", "second"))
    write(tmp_path, "a.yaml", RULE.replace("r1", "first"))
    write(tmp_path, "notes.txt", "not a mapping")
    assert [r.name for r in load_mappings(tmp_path).rules] == ["first", "second"]


def test_load_mappings_version_names_the_contents(tmp_path):
    first = load_mappings(write(tmp_path, "m.yaml", RULE)).version
    assert len(first) == 12 and int(first, 16) >= 0
    assert load_mappings(tmp_path).version == first
    assert load_mappings(write(tmp_path, "m.yaml", RULE + "\n# changed\n")).version != first


def test_load_mappings_keeps_non_string_scalars_as_literals(tmp_path):
    text = rule(account="{delinquent: false, tier: 3, ratio: 0.5}")
    (only,) = load_mappings(write(tmp_path, "m.yaml", text)).rules
    assert {name: expression({}) for name, expression in only.account.items()} == {
        "delinquent": False, "tier": 3, "ratio": 0.5}


def test_load_mappings_reads_lookups(tmp_path):
    text = "lookups:\n  plans: {price_1: Pro}\n" + rule(account='{plan: "lookup(\'plans\', object.id)"}')
    mappings = load_mappings(write(tmp_path, "m.yaml", text))
    assert mappings.lookups == {"plans": {"price_1": "Pro"}}


@pytest.mark.parametrize("make", [lambda p: p / "absent", lambda p: p])
def test_load_mappings_names_the_setting_when_there_is_nothing_to_load(tmp_path, make):
    with pytest.raises(MappingError, match="BRIDGE_MAPPINGS_DIR"):
        load_mappings(make(tmp_path))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (rule(provider=None), "m.yaml: rule r1: provider: required"),
        (rule(events=None), "m.yaml: rule r1: events: required"),
        (rule(events="[]"), "m.yaml: rule r1: events: must be a non-empty list"),
        (rule(events='"invoice.paid"'), "m.yaml: rule r1: events: required"),
        (rule(events='["invoice paid"]'), "m.yaml: rule r1: events: invalid glob 'invoice paid'"),
        (rule(events="[3]"), "m.yaml: rule r1: events: invalid glob 3"),
        (rule(colour="red"), "m.yaml: rule r1: unknown key 'colour'"),
        (rule(connect='"yes"'), "m.yaml: rule r1: connect: must be true or false"),
        (rule(when="3"), "m.yaml: rule r1: when: must be an expression"),
        (rule(account="[a, b]"), "m.yaml: rule r1: account: must be a mapping"),
        (rule(account='{"bad-name": "object.id"}'), "m.yaml: rule r1: account: invalid name 'bad-name'"),
        (rule(account='{"1st": "object.id"}'), "m.yaml: rule r1: account: invalid name '1st'"),
        (rule(visitor='{ok: [1, 2]}'), "m.yaml: rule r1: visitor.ok: must be an expression or a scalar"),
        (rule(account='{plan: "object.id +"}'), "m.yaml: rule r1: account.plan: invalid expression"),
        (rule(account='{plan: "object.id }}"}'), "m.yaml: rule r1: account.plan: invalid expression"),
        (rule(account='{plan: "foo.bar"}'), "m.yaml: rule r1: account.plan: unknown name 'foo'"),
        (rule(account='{plan: "range(3)"}'), "m.yaml: rule r1: account.plan: unknown function 'range'"),
        (rule(account='{plan: "object | center(9)"}'), "m.yaml: rule r1: account.plan: invalid expression"),
        (rule(account='{plan: "object.__class__"}'), "m.yaml: rule r1: account.plan: access to '__class__'"),
        (rule(account='{plan: "object._private"}'), "m.yaml: rule r1: account.plan: access to '_private'"),
        (rule(account='{plan: "self"}'), "m.yaml: rule r1: account.plan: access to 'self'"),
        (rule(account="{plan: \"lookup('nope', object.id)\"}"),
         "m.yaml: rule r1: account.plan: unknown lookup table 'nope'"),
        (rule(track="{event: X, colour: red}"), "m.yaml: rule r1: track: unknown key 'colour'"),
        (rule(track="{properties: {a: 1}}"), "m.yaml: rule r1: track.event: must be a non-empty event name"),
        (rule(track="{event: X, properties: {a_property_name_longer_than_32_chars: 1}}"),
         "m.yaml: rule r1: track.properties: invalid name 'a_property_name_longer_than_32_chars'"),
        (rule(track='{event: X, when: "nope"}'), "m.yaml: rule r1: track.when: unknown name 'nope'"),
        (rule(account_id="true"), "m.yaml: rule r1: account_id: must be an expression"),
        (rule(account="""{x: "([['a' * 10000] * 10000] * 10000) | map('string') | map('length') | sum"}"""),
         "m.yaml: rule r1: account.x: builds about 1000100010000 characters and items, more than the 2000000"),
        (rule(account="""{x: "object.id ~ ('x' * 10 ** 9)"}"""),
         "m.yaml: rule r1: account.x: a repetition would make more than 10000 items: every event would fail"),
        ("rules:\n  - just a string\n", "m.yaml: rule #1: must be a mapping"),
        ("rules:\n  - {provider: stripe, events: [x]}\n", "m.yaml: rule #1: name: required"),
        ("rules: {a: 1}\n", "m.yaml: rules: must be a list"),
        ("colour: red\n", "m.yaml: unknown top-level key 'colour'"),
        ("- a\n- b\n", "m.yaml: must be a mapping with `rules:`"),
        ("rules: [\n", "m.yaml: cannot be read as YAML"),
        ("lookups: {plans: [1]}\n", "m.yaml: lookups: table 'plans' must be a mapping"),
    ],
)
def test_load_mappings_refuses_invalid_rules(tmp_path, text, reason):
    assert reason in load_problems(tmp_path, text)


def test_load_mappings_reports_every_problem_at_once(tmp_path):
    text = RULE + """
  - name: r2
    provider: stripe
    events: ["invoice.paid"]
    account: {a: "unknown_thing", b: "object.x +"}
"""
    lines = load_problems(tmp_path, text).splitlines()
    assert lines[0].startswith("m.yaml: rule r2: account.a: unknown name 'unknown_thing'")
    assert lines[1].startswith("m.yaml: rule r2: account.b: invalid expression")
    assert len(lines) == 2


def test_load_mappings_refuses_duplicate_rule_names_across_files(tmp_path):
    write(tmp_path, "a.yaml", RULE)
    message = load_problems(tmp_path, RULE)
    assert "m.yaml: rule r1: duplicate rule name (also in a.yaml)" in message


def test_load_mappings_refuses_duplicate_lookup_tables_across_files(tmp_path):
    write(tmp_path, "a.yaml", "lookups: {plans: {a: 1}}\n")
    assert "m.yaml: lookups: table 'plans' is defined twice" in load_problems(tmp_path, "lookups: {plans: {}}\n")


@pytest.mark.parametrize(
    "source",
    [
        "(" * 3000 + "object.id" + ")" * 3000,
        "not " * 3000 + "object.id",
        "- " * 3000 + "1",
        "object" + ".a" * 3000,
        "object.id" + " | string" * 3000,
        "1" + " + 1" * 3000,
        "[" * 3000 + "]" * 3000,
        "(" * 60 + "object.id" + ")" * 60 + ".a" * 60,
    ],
)
def test_load_mappings_reports_a_deeply_nested_expression_as_a_problem(tmp_path, source):
    write(tmp_path, "m.yaml", rule(account=f'{{plan: "{source}"}}'))
    with pytest.raises(MappingError) as caught:
        load_mappings(tmp_path)
    [line] = str(caught.value).splitlines()
    prefix = re.escape(f"{tmp_path}/m.yaml:5: rule r1: account.plan: invalid expression ")
    reason = "(nested more than 50 levels deep|too large or nested too deeply to compile)"
    assert re.fullmatch(prefix + r".{1,120}: " + reason, line)


def test_load_mappings_refuses_an_alias_bomb_with_file_and_line(tmp_path):
    bomb = "".join(f"  l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 12))
    text = RULE + "lookups:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + bomb
    assert "m.yaml: aliases expand to more than 10000 nodes" in load_problems(tmp_path, text)
