import textwrap

import pytest

from bridge.errors import BridgeError
from bridge.mapping import EvalOptions, evaluate, load_mappings
from bridge.mapping.evaluate import context_variables
from bridge.mapping.loader import CONTEXT_NAMES
from bridge.mapping.operations import MetadataUpdate, TrackEvent
from bridge.providers import Event

SUBSCRIPTION = {
    "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active", "currency": "usd",
    "metadata": {"pendo_account_id": "acme", "pendo_visitor_id": "user-1"},
    "items": {"data": [{"quantity": 2, "price": {"id": "price_1", "lookup_key": "pro", "unit_amount": 1000,
                                                 "recurring": {"interval": "month", "interval_count": 1}}}]},
}


def event(obj=None, type_="customer.subscription.updated", created=1735700000.5, connect=None, previous=None,
          provider="stripe"):
    data = {"object": SUBSCRIPTION if obj is None else obj}
    if previous is not None:
        data["previous_attributes"] = previous
    payload = {"id": "evt_1", "object": "event", "type": type_, "created": int(created), "data": data}
    return Event(provider=provider, id="evt_1", type=type_, created=created, livemode=False,
                 api_version="2024-06-20", connect_account=connect, customer_id="cus_1", payload=payload)


def mappings(tmp_path, rules):
    (tmp_path / "m.yaml").write_text(textwrap.dedent(rules))
    return load_mappings(tmp_path)


# The subscription's customer, known (as the worker's cache or a look-up gives it): no customer-wide discount.
KNOWN_CUSTOMER = {"customer": {"id": "cus_1", "object": "customer", "discount": None}}


def run(tmp_path, rules, evt=None, enrichment=None, **options):
    return evaluate(mappings(tmp_path, rules), evt or event(), enrichment or KNOWN_CUSTOMER, EvalOptions(**options))


BASIC = """
rules:
  - name: fields
    provider: stripe
    events: ["customer.subscription.*"]
    account:
      status: "object.status"
      mrr: "stripe_mrr(object)"
      gone: "object.canceled_at"
    visitor:
      plan: "stripe_plan(object)"
    track:
      event: Plan Seen
      properties: {plan: "stripe_plan(object)", missing: "object.nothing"}
"""


def test_evaluate_builds_account_visitor_and_track_operations(tmp_path):
    outcome = run(tmp_path, BASIC)
    assert outcome.matched == ["fields"] and outcome.warnings == [] and outcome.unresolved == []
    assert outcome.operations == [
        MetadataUpdate(kind="account", id="acme", values={"status": "active", "mrr": 20.0},
                       source_time=1735700000500, rank=103, create=False, rule="fields"),
        MetadataUpdate(kind="visitor", id="user-1", values={"plan": "pro"}, source_time=1735700000500, rank=103,
                       create=False, rule="fields"),
        TrackEvent(event="Plan Seen", visitor_id="user-1", account_id="acme", timestamp=1735700000500,
                   properties={"plan": "pro"}, rule="fields"),
    ]


@pytest.mark.parametrize(
    ("evt", "reason"),
    [
        (event(type_="invoice.paid"), "event type does not match"),
        (event(provider="paddle"), "provider does not match"),
        (event(connect="acct_123"), "Connect event"),
        (event({**SUBSCRIPTION, "status": "canceled"}), "when is false"),
    ],
)
def test_evaluate_skips_rules_that_do_not_match(tmp_path, evt, reason):
    text = BASIC.replace("    account:", "    when: \"object.status == 'active'\"\n    account:", 1)
    outcome = run(tmp_path, text, evt)
    assert outcome.skipped == {"fields": reason}
    assert outcome.operations == [] and outcome.matched == []


def test_evaluate_accepts_connect_events_when_the_rule_asks(tmp_path):
    text = BASIC.replace("    account:", "    connect: true\n    account:", 1)
    assert run(tmp_path, text, event(connect="acct_123")).matched == ["fields"]


def test_evaluate_marks_a_rule_unresolved_without_an_account_id(tmp_path):
    obj = {**SUBSCRIPTION, "metadata": {"pendo_visitor_id": "user-1"}}
    outcome = run(tmp_path, BASIC, event(obj))
    assert outcome.unresolved == ["fields"]
    assert outcome.operations == []


def test_evaluate_uses_the_account_fallback_without_create(tmp_path):
    obj = {**SUBSCRIPTION, "metadata": {"pendo_visitor_id": "user-1"}}
    outcome = run(tmp_path, BASIC, event(obj), account_fallback="stripe_customer", create_accounts=True)
    account = outcome.operations[0]
    assert (account.id, account.create) == ("cus_1", False)


@pytest.mark.parametrize(
    ("account_id", "create_accounts", "expected"),
    [("identity.account_id", True, True), ("identity.account_id", False, False), ("'other'", True, False)],
)
def test_evaluate_allows_create_only_for_metadata_ids(tmp_path, account_id, create_accounts, expected):
    text = BASIC.replace("    account:", f'    account_id: "{account_id}"\n    account:', 1)
    outcome = run(tmp_path, text, create_accounts=create_accounts)
    assert outcome.operations[0].create is expected


def test_evaluate_marks_a_track_rule_unresolved_without_account_or_visitor_id(tmp_path):
    rules = """
rules:
  - name: seen
    provider: stripe
    events: ["customer.subscription.*"]
    track: {event: Plan Seen}
"""
    assert run(tmp_path, rules, event({**SUBSCRIPTION, "metadata": {}})).unresolved == ["seen"]
    outcome = run(tmp_path, rules, event({**SUBSCRIPTION, "metadata": {"pendo_account_id": "acme"}}))
    assert outcome.unresolved == [] and outcome.operations == []
    assert outcome.warnings == ["rule seen: no visitor id: visitor fields and track event skipped"]


def test_evaluate_skips_visitor_fields_and_track_without_a_visitor_id(tmp_path):
    obj = {**SUBSCRIPTION, "metadata": {"pendo_account_id": "acme"}}
    outcome = run(tmp_path, BASIC, event(obj))
    assert [op.kind for op in outcome.operations] == ["account"]
    assert outcome.unresolved == []
    assert outcome.warnings == ["rule fields: no visitor id: visitor fields and track event skipped"]


def test_evaluate_uses_the_synthetic_visitor_fallback(tmp_path):
    obj = {**SUBSCRIPTION, "metadata": {"pendo_account_id": "acme"}}
    outcome = run(tmp_path, BASIC, event(obj), visitor_fallback="synthetic", synthetic_prefix="sc-")
    assert outcome.operations[1].id == "sc-cus_1"


def test_evaluate_sends_no_track_events_when_tracking_is_off(tmp_path):
    outcome = run(tmp_path, BASIC, track_enabled=False)
    assert [type(op) for op in outcome.operations] == [MetadataUpdate, MetadataUpdate]


def test_evaluate_respects_the_track_when(tmp_path):
    text = BASIC.replace("      event: Plan Seen", "      event: Plan Seen\n      when: \"event_type == 'x'\"")
    assert not any(isinstance(op, TrackEvent) for op in run(tmp_path, text).operations)


def test_evaluate_omits_a_failing_field_with_a_warning(tmp_path):
    text = BASIC.replace('status: "object.status"', 'status: "object.status"\n      broken: "object.status + 1"')
    outcome = run(tmp_path, text)
    assert outcome.operations[0].values == {"status": "active", "mrr": 20.0}
    assert len(outcome.warnings) == 1
    assert outcome.warnings[0].startswith("rule fields: field broken: TypeError")


@pytest.mark.parametrize(
    "expression",
    ["object.status.lower", "[object.nothing]", "object.currency | replace('usd', 'nan') | float", "stripe_mrr"],
)
def test_evaluate_omits_a_field_that_is_not_json(tmp_path, expression):
    text = BASIC.replace('status: "object.status"', f'status: "object.status"\n      odd: "{expression}"')
    outcome = run(tmp_path, text)
    assert outcome.operations[0].values == {"status": "active", "mrr": 20.0}
    assert outcome.warnings == ["rule fields: field odd: not a JSON value"]


def test_evaluate_omits_an_update_whose_fields_are_all_null(tmp_path):
    text = """
    rules:
      - name: nulls
        provider: stripe
        events: ["*"]
        account: {gone: "object.canceled_at", none: null}
    """
    outcome = run(tmp_path, text)
    assert outcome.matched == ["nulls"] and outcome.operations == []


def test_evaluate_converts_ids_to_strings(tmp_path):
    text = BASIC.replace("    account:", '    account_id: "42"\n    visitor_id: "7"\n    account:', 1)
    ops = run(tmp_path, text).operations
    assert (ops[0].id, ops[1].id, ops[2].visitor_id, ops[2].account_id) == ("42", "7", "7", "42")


@pytest.mark.parametrize(("date_format", "expected"), [("iso", "2025-01-01T02:53:20.500Z"),
                                                      ("epoch_ms", 1735700000500)])
def test_evaluate_formats_dates_as_configured(tmp_path, date_format, expected):
    text = """
    rules:
      - name: dates
        provider: stripe
        events: ["*"]
        account: {seen_at: "date(1735700000.5)", parsed: "date('2025-01-01T03:53:20.5+01:00')"}
    """
    values = run(tmp_path, text, date_format=date_format).operations[0].values
    assert values == {"seen_at": expected, "parsed": expected}


def test_evaluate_looks_up_tables_of_the_mapping_files(tmp_path):
    text = """
    lookups:
      names: {pro: Professional}
    rules:
      - name: lookups
        provider: stripe
        events: ["*"]
        account:
          plan: "lookup('names', stripe_plan(object))"
          other: "lookup('names', 'zzz', 'unknown')"
    """
    assert run(tmp_path, text).operations[0].values == {"plan": "Professional", "other": "unknown"}


@pytest.mark.parametrize(
    ("evt", "enrichment", "expression", "expected"),
    [
        (event(), {}, "subscription.id", "sub_1"),
        (event(), {"subscription": {"id": "sub_other"}}, "subscription.id", "sub_1"),
        (event({"object": "invoice", "id": "in_1", "customer": "cus_1"}, "invoice.paid"),
         {"subscription": {"id": "sub_enriched"}}, "subscription.id", "sub_enriched"),
        (event({"object": "customer", "id": "cus_1", "email": "a@b.example"}, "customer.updated"),
         {"customer": {"email": "stale@b.example"}}, "customer.email", "a@b.example"),
        (event(), {"customer": {"email": "c@b.example"}}, "customer.email", "c@b.example"),
        (event(previous={"status": "trialing"}), {}, "previous.status", "trialing"),
        (event(), {}, "previous.status", None),
        (event(), {}, "event_type", "customer.subscription.updated"),
        (event(), {}, "event.id", "evt_1"),
        (event(), {}, "livemode", False),
        (event(connect="acct_9"), {}, "connect_account", "acct_9"),
        (event(), {}, "identity.customer_id", "cus_1"),
    ],
)
def test_evaluate_context_variables(tmp_path, evt, enrichment, expression, expected):
    text = f"""
    rules:
      - name: ctx
        provider: stripe
        events: ["*"]
        connect: true
        account_id: "'a'"
        account: {{value: "{expression}", marker: 1}}
    """
    assert run(tmp_path, text, evt, enrichment).operations[0].values.get("value") == expected


def test_context_variables_are_the_names_the_loader_knows():
    assert tuple(context_variables(event(), {}, EvalOptions())) == CONTEXT_NAMES


def test_evaluate_ranks_updates_by_event_type_and_status(tmp_path):
    deleted = event({**SUBSCRIPTION, "status": "canceled"}, "customer.subscription.deleted")
    assert run(tmp_path, BASIC, deleted).operations[0].rank == 208


SECRET = "Jane Roe, +1 555 0100"
LEAKY = {
    "call": "object.metadata.secret()",
    "method": "object.metadata.secret.format()",
    "item_of_text": "object.metadata.secret[object.metadata.secret] + 1",
    "missing_key": "object.metadata[object.metadata.secret] + 1",
    "missing_index": "object.items.data[object.metadata.secret] + 1",
    "date": "date(object.metadata.secret)",
    "lookup": "lookup(object.metadata.secret, 'x')",
    "number": "object.metadata.secret | int + object.metadata.secret",
}


def test_evaluate_warnings_never_quote_the_event(tmp_path):
    obj = {**SUBSCRIPTION, "metadata": {**SUBSCRIPTION["metadata"], "secret": SECRET, "count": 123456789}}
    fields = "".join(f"      {name}: \"{source}\"\n" for name, source in LEAKY.items())
    text = f"""
    rules:
      - name: leaky
        provider: stripe
        events: ["*"]
        account:
{textwrap.indent(fields, "    ")}"""
    outcome = run(tmp_path, text, event(obj))
    assert len(outcome.warnings) == len(LEAKY)
    for warning in outcome.warnings:
        assert SECRET not in warning and "Jane" not in warning and "123456789" not in warning, warning
    assert "rule leaky: field date: ValueError (its message is not shown: it may quote the event)" in outcome.warnings
    power = text.replace("account:", 'account:\n          power: "2 ** object.metadata.count"', 1)
    with pytest.raises(BridgeError) as caught:
        run(tmp_path, power, event(obj))
    assert type(caught.value).__name__ == "EvaluationError"
    assert str(caught.value) == "rule leaky: field power: an exponent is larger than 64"


HEAVY = """
rules:
  - name: light
    provider: stripe
    events: ["*"]
    account: {status: "object.status"}
  - name: heavy
    provider: stripe
    events: ["*"]
    account:
      status: "object.status"
      huge: "([[object.status] * 10000] * 10000) | tojson | length"
"""


def test_evaluate_over_a_bound_fails_the_event_naming_rule_and_field(tmp_path):
    with pytest.raises(BridgeError) as caught:
        run(tmp_path, HEAVY)
    assert type(caught.value).__name__ == "EvaluationError"
    assert str(caught.value).startswith("rule heavy: field huge: a repetition would build more than")


def test_evaluate_past_its_cpu_time_fails_the_event_naming_rule_and_field(tmp_path):
    obj = {**SUBSCRIPTION, "numbers": list(range(20_000))}
    text = HEAVY.replace("([[object.status] * 10000] * 10000) | tojson | length",
                         "object.numbers | select('in', object.numbers) | list | length")
    with pytest.raises(BridgeError, match=r"^rule heavy: field huge: evaluating the event took more than 0.05 s"):
        run(tmp_path, text, event(obj), evaluation_seconds=0.05)


CLEARING = """
rules:
  - name: fields
    provider: stripe
    events: ["customer.subscription.*"]
    account:
      canceled_at: "coalesce(date(object.canceled_at), clear())"
      status: "object.status"
      untouched: "object.nothing"
    visitor:
      role: "clear()"
    track:
      event: Plan Seen
      properties: {gone: "clear()", status: "object.status"}
"""


def test_clear_empties_a_field_as_null_while_null_still_means_not_sent(tmp_path):
    outcome = run(tmp_path, CLEARING)
    assert outcome.warnings == []
    account, visitor, track = outcome.operations
    assert account.values == {"canceled_at": None, "status": "active"}  # `untouched` is not sent at all
    assert visitor.values == {"role": None}
    assert track.properties == {"status": "active"}  # a track property cannot be cleared: left out


def test_clear_gives_way_to_a_value(tmp_path):
    outcome = run(tmp_path, CLEARING, event({**SUBSCRIPTION, "canceled_at": 1735700000}))
    assert outcome.operations[0].values == {"canceled_at": "2025-01-01T02:53:20.000Z", "status": "active"}
