import json
from pathlib import Path

import pytest

from bridge.mapping import EvalOptions, evaluate, load_mappings
from bridge.mapping.operations import MetadataUpdate, TrackEvent
from bridge.providers import Event
from bridge.providers.stripe import billing as sb
from bridge.providers.stripe import versions as sv

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "stripe"
SHAPES = ["subscription_shapes_pre_basil.json", "subscription_shapes_acacia.json", "subscription_shapes_basil.json",
          "subscription_shapes_clover.json"]
# Subscriptions before basil have one period, on the subscription; from basil on each item has its own.
PERIOD_ON_THE_SUBSCRIPTION = ("pre_basil", "acacia")
ACACIA_VERSIONS = ["2024-09-30.acacia", "2024-12-18.acacia", "2025-02-24.acacia"]
NEWER_VERSIONS = ["2026-03-25.dahlia", "2026-08-26.dahlia", "2026-10-28.endive"]
# The clover event, and the same event as dahlia and endive send it (tests/fixtures/stripe/*_dahlia|endive.json).
# The created, updated and invoice-paid events come from the basil fixtures, whose objects have no field that clover
# changed (no discounts; the invoice's subscription under `parent`): labelled clover, they are the clover events.
SAME_EVENTS = {
    "subscription shapes": "subscription_shapes_clover.json",
    "subscription created": "subscription_created_basil.json",
    "subscription updated": "subscription_updated_basil.json",
    "invoice paid": "invoice_paid_basil.json",
}
CUSTOMER = {"id": "cus_RxT4bV9mQp2LkA", "object": "customer", "email": "ops@acme.example",
            "metadata": {"pendo_visitor_id": "user-42"}}


def body(name):
    return json.loads((FIXTURES / name).read_text())


def event(payload):
    obj = payload["data"]["object"]
    return Event(provider="stripe", id=payload["id"], type=payload["type"], created=float(payload["created"]),
                 livemode=False, api_version=payload.get("api_version"), connect_account=None,
                 customer_id=obj.get("customer"), payload=payload)


@pytest.mark.parametrize("name", SHAPES)
def test_normalise_gives_one_shape_for_every_api_version(name):
    raw = body(name)
    sub = sv.normalise(raw)["data"]["object"]
    assert raw == body(name)  # the raw payload is untouched
    periods_on_top = any(shape in name for shape in PERIOD_ON_THE_SUBSCRIPTION)
    assert sub["current_period_end"] == (1759300000 if periods_on_top else 1785500000)
    assert all(item["current_period_end"] for item in sub["items"]["data"])
    assert [d["coupon"]["id"] for d in sub["discounts"]] == ["LOYAL20"]
    assert (sb.subscription_mrr(sub), sb.plan_name(sub), sb.seats(sub), sb.interval(sub)) == (
        120.0, "growth_seat", 4, "month")


@pytest.mark.parametrize("name", SHAPES)
def test_shipped_mapping_gives_the_same_account_fields_in_every_shape(name):
    outcome = evaluate(load_mappings(ROOT / "mappings"), event(body(name)), {}, EvalOptions())
    [update] = [op for op in outcome.operations if isinstance(op, MetadataUpdate)]
    assert {k: update.values[k] for k in ("mrr", "billing_plan", "seats", "billing_status")} == {
        "mrr": 120.0, "billing_plan": "growth_seat", "seats": 4, "billing_status": "active"}


def labelled(name, api_version):
    payload = body(name)
    payload["api_version"] = api_version
    return payload


def newer_shape(clover_name, api_version):
    """The acacia, dahlia or endive fixture of the same event, labelled with `api_version`."""
    release = api_version.rsplit(".", 1)[1]
    return labelled(clover_name.replace("_clover", "").replace("_basil", "").replace(".json", f"_{release}.json"),
                    api_version)


@pytest.mark.parametrize("api_version", NEWER_VERSIONS)
@pytest.mark.parametrize("kind", SAME_EVENTS)
def test_dahlia_and_endive_events_map_exactly_like_clover(kind, api_version):
    mappings = load_mappings(ROOT / "mappings")
    clover = evaluate(mappings, event(labelled(SAME_EVENTS[kind], "2025-09-30.clover")), {"customer": CUSTOMER},
                      EvalOptions())
    newer = evaluate(mappings, event(newer_shape(SAME_EVENTS[kind], api_version)), {"customer": CUSTOMER},
                     EvalOptions())
    assert any(isinstance(op, MetadataUpdate) for op in clover.operations)
    assert any(isinstance(op, TrackEvent) for op in clover.operations)
    assert newer.operations == clover.operations
    assert (newer.matched, newer.unresolved, newer.warnings) == (clover.matched, clover.unresolved, clover.warnings)


@pytest.mark.parametrize("api_version", ACACIA_VERSIONS)
@pytest.mark.parametrize("kind", [kind for kind in SAME_EVENTS if kind != "subscription shapes"])
def test_acacia_events_map_exactly_like_clover(kind, api_version):
    # The acacia fixtures carry the periods on the subscription (created: there only; updated: on the items too, as
    # acacia payloads of 2025 do), `discount` beside `discounts`, `plan` on the items and the invoice's subscription at
    # the top. The shapes fixture is left out: before basil a subscription has one period, so its mixed-interval
    # subscription ends when its monthly items do, not when the annual one does.
    mappings = load_mappings(ROOT / "mappings")
    clover = evaluate(mappings, event(labelled(SAME_EVENTS[kind], "2025-09-30.clover")), {"customer": CUSTOMER},
                      EvalOptions())
    acacia = evaluate(mappings, event(newer_shape(SAME_EVENTS[kind], api_version)), {"customer": CUSTOMER},
                      EvalOptions())
    assert any(isinstance(op, MetadataUpdate) for op in clover.operations)
    assert any(isinstance(op, TrackEvent) for op in clover.operations)
    assert acacia.admission == "map"
    assert acacia.operations == clover.operations
    assert (acacia.matched, acacia.unresolved, acacia.warnings) == (clover.matched, clover.unresolved, clover.warnings)


def test_acacia_discount_ids_in_discounts_are_the_expanded_discount_once():
    # An acacia webhook expands `discount` but lists `discounts` as ids: the same discount, counted once.
    raw = body("subscription_shapes_acacia.json")
    assert raw["data"]["object"]["discounts"] == ["di_1SmLoyal"]
    sub = sv.normalise(raw)["data"]["object"]
    assert [d["coupon"]["percent_off"] for d in sub["discounts"]] == [20.0]
    assert sb.subscription_mrr(sub) == 120.0


def test_acacia_discount_ids_beyond_the_expanded_one_leave_mrr_unknown_with_a_warning():
    payload = body("subscription_shapes_acacia.json")
    payload["data"]["object"]["discounts"] = ["di_1SmLoyal", "di_1SmWelcome"]
    outcome = evaluate(load_mappings(ROOT / "mappings"), event(payload), {}, EvalOptions())
    [update] = [op for op in outcome.operations if isinstance(op, MetadataUpdate)]
    assert "mrr" not in update.values and update.values["billing_plan"] == "growth_seat"
    assert any("not expanded" in warning for warning in outcome.warnings)


def test_acacia_items_without_periods_get_the_subscription_period():
    sub = sv.normalise(body("subscription_created_acacia.json"))["data"]["object"]
    assert [(item["current_period_start"], item["current_period_end"]) for item in sub["items"]["data"]] == [
        (1735700000, 1743562400), (1735700000, 1743562400)]


@pytest.mark.parametrize("name", ["subscription_shapes_dahlia.json", "subscription_shapes_endive.json"])
def test_normalise_gives_the_clover_shape_for_dahlia_and_endive(name):
    sub = sv.normalise(body(name))["data"]["object"]
    assert sub["current_period_end"] == 1785500000
    assert [d["coupon"]["id"] for d in sub["discounts"]] == ["LOYAL20"]
    assert (sb.subscription_mrr(sub), sb.plan_name(sub), sb.seats(sub), sb.interval(sub)) == (
        120.0, "growth_seat", 4, "month")


def test_normalise_moves_basil_invoice_subscription_to_the_top():
    raw = body("invoice_paid_basil.json")
    invoice = sv.normalise(raw)["data"]["object"]
    assert invoice["subscription"] == "sub_1QgJpy3eZvKYlo2CYen1"
    assert invoice["subscription_details"]["metadata"] == {"pendo_account_id": "acme-corp"}


@pytest.mark.parametrize(
    ("version", "supported"),
    [(None, True), ("2024-06-20", True), ("2020-08-27", True), ("2025-03-31.basil", True),
     ("2025-08-27.basil", True), ("2025-09-30.clover", True), ("2025-11-17.clover", True),
     ("2026-03-25.dahlia", True), ("2026-08-26.dahlia", True), ("2026-09-30.endive", True),
     ("2026-10-28.endive", True), ("2026-11-18.endive", True), ("2024-09-30.acacia", True),
     ("2024-10-28.acacia", True), ("2024-11-20.acacia", True), ("2024-12-18.acacia", True), ("2025-01-27.acacia", True),
     ("2025-02-24.acacia", True), ("2019-12-03", False), ("2025-04-30", False), ("2024-09-29.acacia", False),
     ("2026-03-24.dahlia", False), ("2026-09-29.endive", False), ("2027-03-24.fig", False), ("garbage", False),
     ("2025-01-01.clover", False)],
)
def test_support_declares_the_range(version, supported):
    assert (sv.support(version) is None) is supported


def test_events_of_an_unsupported_version_are_flagged_not_mapped():
    payload = body("subscription_shapes_clover.json")
    payload["api_version"] = "2026-09-29.endive"  # before endive's first version: no such version
    outcome = evaluate(load_mappings(ROOT / "mappings"), event(payload), {}, EvalOptions())
    assert outcome.operations == [] and outcome.matched == []
    assert "newer than or unknown" in outcome.warnings[0]


def test_a_version_before_acacia_with_its_name_is_flagged_not_mapped():
    payload = labelled("subscription_created_acacia.json", "2024-09-29.acacia")  # no such version: acacia began 09-30
    outcome = evaluate(load_mappings(ROOT / "mappings"), event(payload), {"customer": CUSTOMER}, EvalOptions())
    assert (outcome.operations, outcome.matched, outcome.admission) == ([], [], "store")
    assert outcome.warnings[0].startswith("Stripe API version 2024-09-29.acacia is newer than or unknown")


def test_basil_discount_ids_leave_mrr_unknown_with_a_warning():
    payload = body("subscription_shapes_basil.json")
    payload["data"]["object"]["discounts"] = ["di_1SmLoyal"]
    outcome = evaluate(load_mappings(ROOT / "mappings"), event(payload), {}, EvalOptions())
    [update] = [op for op in outcome.operations if isinstance(op, MetadataUpdate)]
    assert "mrr" not in update.values
    assert any("not expanded" in warning for warning in outcome.warnings)


@pytest.mark.parametrize(
    ("version", "newer", "standing"),
    [("2027-03-24.fig", True, "newer"), ("2026-12-01.fig", True, "newer"), ("2026-11-18.fig", False, "unsupported"),
     ("2026-06-01.fig", False, "unsupported"), ("2026-12-16.endive", False, "supported"),
     ("2026-10-28.endive", False, "supported"), ("2027-03-24", False, "unsupported"),
     ("2025-02-24.acacia", False, "supported"), ("2024-09-29.acacia", False, "unsupported"),
     ("2019-12-03", False, "unsupported"), ("garbage", False, "unsupported"), (None, False, "supported")],
)
def test_newer_is_a_release_after_every_known_one(version, newer, standing):
    assert sv.newer(version) is newer
    assert sv.standing(version) == standing


def test_a_newer_release_in_the_known_shape_is_mapped_as_endive_with_a_warning():
    mappings = load_mappings(ROOT / "mappings")
    clover = evaluate(mappings, event(body("subscription_shapes_clover.json")), {}, EvalOptions())
    fig = evaluate(mappings, event(labelled("subscription_shapes_clover.json", "2027-03-24.fig")), {}, EvalOptions())
    assert clover.operations and fig.operations == clover.operations
    assert (fig.admission, fig.newer_version) == ("map", "2027-03-24.fig")
    assert fig.warnings == [(
        "Stripe API version 2027-03-24.fig is newer than this bridge knows (newest known: 2026-11-18.endive); "
        "upgrade bridge: mapped as endive, since the fields the mappings read are there"), *clover.warnings]


def test_a_newer_release_that_moved_a_mapped_field_is_held():
    payload = labelled("subscription_shapes_endive.json", "2027-03-24.fig")
    for item in payload["data"]["object"]["items"]["data"]:
        item["billing_period"] = {"start": item.pop("current_period_start"), "end": item.pop("current_period_end")}
    outcome = evaluate(load_mappings(ROOT / "mappings"), event(payload), {}, EvalOptions())
    assert outcome.operations == [] and outcome.matched == []
    assert (outcome.admission, outcome.newer_version) == ("hold", "2027-03-24.fig")
    assert set(outcome.skipped.values()) == {"held: newer API version"}
    [warning] = outcome.warnings
    assert "data.object.items.data[].current_period_start: missing" in warning
    assert "`bridge replay --status held`" in warning


def test_an_unknown_release_dated_before_the_newest_is_stored_not_mapped():
    outcome = evaluate(load_mappings(ROOT / "mappings"), event(labelled("subscription_shapes_clover.json",
                                                                        "2026-06-01.fig")), {}, EvalOptions())
    assert (outcome.operations, outcome.admission, outcome.newer_version) == ([], "store", None)
    assert outcome.warnings[0].endswith(": the event is stored, not mapped")
