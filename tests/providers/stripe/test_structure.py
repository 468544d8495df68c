import json
from pathlib import Path

import pytest

from bridge.providers.stripe import structure

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "stripe"
EVENTS = ROOT / "mappings" / "tests" / "events"
CURRENT = sorted(path for folder in (FIXTURES, EVENTS) for path in folder.glob("*.json")
                 if any(release in path.name for release in ("basil", "clover", "dahlia", "endive"))
                 and "pre_basil" not in path.name)


def body(name):
    return json.loads((FIXTURES / name).read_text())


@pytest.mark.parametrize("path", CURRENT, ids=lambda path: path.name)
def test_problems_none_for_every_fixture_of_the_current_shape(path):
    assert structure.problems(json.loads(path.read_text())) == []


def test_problems_item_periods_of_the_pre_basil_shape_are_missing():
    # A newer version is checked against the newest shape: periods on the subscription alone are not it.
    assert structure.problems(body("subscription_shapes_pre_basil.json")) == [
        "data.object.items.data[].current_period_start: missing",
        "data.object.items.data[].current_period_end: missing"]


def subscription():
    return body("subscription_shapes_endive.json")


def item(payload):
    return payload["data"]["object"]["items"]["data"][0]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda p: item(p).pop("current_period_end"), "data.object.items.data[].current_period_end: missing"),
        (lambda p: item(p).update(billing_period={"end": item(p).pop("current_period_end")}),
         "data.object.items.data[].current_period_end: missing"),
        (lambda p: item(p)["price"].update(unit_amount_decimal=2500.0),
         "data.object.items.data[].price.unit_amount_decimal: number where null or string was expected"),
        (lambda p: item(p)["price"]["recurring"].update(interval="fortnight"),
         "data.object.items.data[].price.recurring.interval: 'fortnight' is not a value this bridge knows"),
        (lambda p: p["data"]["object"].update(status="frozen"),
         "data.object.status: 'frozen' is not a value this bridge knows"),
        (lambda p: p["data"]["object"].pop("customer"), "data.object.customer: missing"),
        (lambda p: p["data"]["object"].update(metadata=[]),
         "data.object.metadata: array where object was expected"),
        (lambda p: p["data"]["object"]["discounts"][0]["source"]["coupon"].update(duration="lifetime"),
         "data.object.discounts[].source.coupon.duration: 'lifetime' is not a value this bridge knows"),
        (lambda p: p["data"]["object"].update(cancel_at_period_end="no"),
         "data.object.cancel_at_period_end: string where boolean was expected"),
        (lambda p: p["data"].update(previous_attributes={"status": 3}),
         "data.previous_attributes.status: integer where string was expected"),
        (lambda p: p.update(created="1756700100"), "created: string where integer was expected"),
        (lambda p: p["data"]["object"].pop("object"), "data.object.object: missing"),
    ],
)
def test_problems_name_a_moved_retyped_or_unknown_subscription_field(change, problem):
    payload = subscription()
    change(payload)
    assert problem in structure.problems(payload)


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["data"]["object"].update(brand_new_field={"anything": [1, "x"]}),  # additions are fine
        lambda p: p["data"]["object"].update(discounts=["di_1SmLoyal"]),  # ids, as basil+ webhooks send them
        lambda p: p["data"]["object"].update(pause_collection=None, cancel_at=None),  # nulls where allowed
        lambda p: item(p).pop("quantity"),  # metered items have none
        lambda p: item(p)["price"].update(tiers=[]),
        lambda p: p["data"].update(previous_attributes={"items": {"object": "list", "data": []}}),
    ],
)
def test_problems_none_for_additions_and_allowed_variants(change):
    payload = subscription()
    change(payload)
    assert structure.problems(payload) == []


def event_of(obj):
    return {"id": "evt_1", "object": "event", "type": "x.y", "created": 1, "livemode": True, "data": {"object": obj}}


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        ({"id": "in_1", "object": "invoice", "customer": "cus_1", "currency": "usd", "amount_paid": "9800",
          "amount_due": 9800}, "data.object.amount_paid: string where integer was expected"),
        ({"id": "in_1", "object": "invoice", "customer": "cus_1", "currency": "usd", "amount_paid": 9800,
          "amount_due": 9800, "parent": {"subscription_details": {"subscription": 7}}},
         "data.object.parent.subscription_details.subscription: integer where object or string was expected"),
        ({"id": "ch_1", "object": "charge", "currency": "usd", "amount_refunded": 100},
         "data.object.refunded: missing"),
        ({"id": "dp_1", "object": "dispute", "amount": 100, "currency": "usd", "payment": "ch_1"},
         "data.object.charge: missing"),
        ({"id": "cs_1", "object": "checkout.session", "mode": "payment", "currency": "usd", "amount_total": 100,
          "payment": {"status": "paid"}}, "data.object.payment_status: missing"),
        ({"id": "cus_1", "object": "customer", "email": None}, "data.object.metadata: missing"),
    ],
)
def test_problems_are_checked_per_object_type(obj, problem):
    assert structure.problems(event_of(obj)) == [problem]


def test_problems_none_for_an_object_no_mapping_reads():
    assert structure.problems(event_of({"id": "pm_1", "object": "payment_method", "card": 4})) == []
