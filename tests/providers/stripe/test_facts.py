"""Stripe in the model's terms: every subscription of the Stripe billing tests gives the same numbers."""

import json
from pathlib import Path

import pytest

from bridge.billing import lifecycle, money, mrr
from bridge.providers import Event
from bridge.providers import stripe as package
from bridge.providers.stripe import billing as sb
from tests.providers.stripe import test_lifecycle
from tests.providers.stripe.test_billing import coupon, item, subscription

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "stripe"
TIERS = [{"up_to": 10, "unit_amount": 1000, "flat_amount": None},
         {"up_to": None, "unit_amount": 800, "flat_amount": 500}]
TAXED = {"quantity": 1, "tax_rates": [{"percentage": 25.0, "inclusive": True}],
         "price": {"id": "p", "unit_amount": 12500, "tax_behavior": "inclusive",
                   "recurring": {"interval": "month", "usage_type": "licensed"}}}


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def with_id(raw, **extra):
    return {"id": "sub_1", "object": "subscription", **raw, **extra}


CASES = [
    *(with_id(subscription(item(1000, quantity=3), status=s)) for s in
      ("active", "past_due", "trialing", "incomplete", "unpaid", "canceled", "paused", "incomplete_expired")),
    with_id(subscription(item(120000, "year"), currency="jpy")),
    with_id(subscription(item(100000, "year"), currency="jpy")),
    with_id(subscription(item(12345), currency="kwd")),
    with_id(subscription(item(4900, quantity=3), item(99, usage_type="metered"))),
    with_id(subscription(item(49000, "year", quantity=5))),
    with_id(subscription(item(1000), item(500, "week", count=2))),
    with_id(subscription(item(12, "day"), item(1200, "week"), item(None, unit_amount_decimal="1000.5"))),
    with_id(subscription(item(1000, quantity=11, transform_quantity={"divide_by": 10, "round": "up"}))),
    with_id(subscription(item(1000, quantity=11, transform_quantity={"divide_by": 10, "round": "down"}))),
    with_id(subscription({"quantity": 2, "plan": {"id": "plan_1", "amount": 2000, "interval": "month",
                                                  "interval_count": 1, "usage_type": "licensed"}})),
    with_id(subscription()),
    with_id(subscription(item(1000), item(None, billing_scheme="tiered"))),
    with_id(subscription(item(1000), item(None, billing_scheme="tiered"), status="canceled")),
    with_id(subscription(item(4900, quantity=2), status="canceled")),
    *(with_id(subscription(item(10000), **discounts)) for discounts in (
        {"discount": {"id": "di_1", "coupon": coupon(percent_off=20)}},
        {"discount": {"id": "di_1", "coupon": coupon("once", percent_off=20)}},
        {"discount": {"id": "di_1", "coupon": coupon("repeating", percent_off=50)}},
        {"discount": {"id": "di_1", "coupon": coupon(amount_off=1500, currency="usd")}},
        {"discount": {"id": "di_1", "coupon": coupon(amount_off=1500, currency="eur")}},
        {"discount": {"id": "di_1", "coupon": coupon(amount_off=999999, currency="usd")}},
        {"discounts": [{"id": "di_2", "coupon": coupon(percent_off=10)}]},
        {"discounts": ["di_unexpanded"]},
        {"discount": {"id": "di_3", "source": {"type": "coupon", "coupon": coupon(percent_off=25)}}},
        {"discount": {"id": "di_4", "coupon": coupon(percent_off=10)},
         "discounts": [{"id": "di_4", "coupon": coupon(percent_off=10)}]},
    )),
    with_id(subscription(item(120000, "year"), discount={"id": "di_1", "coupon": coupon(amount_off=12000)})),
    with_id(subscription(item(100, id="a"), {**item(5000), "discounts": [{"id": "di_i", "coupon": coupon(
        percent_off=50)}]}, item(3000, "year", id="y"))),
    with_id(subscription(item(5000), {**item(100), "discounts": ["di_x"]})),
    *(with_id(subscription({"quantity": q, "price": {"id": "price_t", "billing_scheme": "tiered", "tiers_mode": m,
                                                   "recurring": {"interval": "month", "interval_count": 1,
                                                                 "usage_type": "licensed"}, "tiers": TIERS}}))
      for m, q in (("graduated", 15), ("volume", 15), ("volume", 5))),
    with_id({"currency": "eur", "status": "active", "items": {"data": [TAXED]}}),
    with_id({"currency": "eur", "status": "active", "automatic_tax": {"enabled": True},
             "items": {"data": [{**TAXED, "tax_rates": []}]}}),
    *(fixture(name)["data"]["object"] for name in sorted(p.name for p in FIXTURES.glob("subscription_*.json"))
      if fixture(name)["data"]["object"].get("object") == "subscription"),
]


def as_float(found):
    return None if found.amount is None else float(found.amount)


@pytest.mark.parametrize("raw", CASES)
def test_subscription_gives_stripes_own_numbers(raw):
    model = package.subscription(raw)
    main = mrr.main_item(model)
    assert as_float(mrr.mrr(model)) == sb.subscription_mrr(raw)
    assert as_float(mrr.list_mrr(model)) == sb.list_mrr(raw)
    assert bool(mrr.mrr(model).gaps) == bool(sb.subscription_mrr(raw) is None and sb.mrr_gaps(raw))
    assert (main.plan if main else None) == sb.plan_name(raw)
    assert (main.quantity if main else None) == sb.seats(raw)
    assert (main.interval if main else None) == sb.interval(raw)
    assert model.period_end == sb.period_end(raw)
    assert model.paused is sb.collection_paused(raw)


def test_subscription_reads_the_fields_of_a_fixture():
    raw = fixture("subscription_created_basil.json")["data"]["object"]
    model = package.subscription(raw)
    assert (model.provider, model.id, model.customer_id, model.status, model.currency) == (
        "stripe", raw["id"], raw["customer"], raw["status"], raw["currency"].upper())
    assert package.subscription({"object": "invoice", "id": "in_1"}) is None
    assert package.subscription({**raw, "status": "incomplete_expired"}).status == "canceled"


def event(name):
    body = fixture(name)
    return Event(provider="stripe", id=body["id"], type=body["type"], created=float(body["created"]),
                 livemode=False, api_version=body.get("api_version"), connect_account=None,
                 customer_id=None, payload=body)


def test_facts_of_a_subscription_event_carry_the_subscription_and_its_identity():
    found = package.facts(event("subscription_created_2024-06-20.json"), {})
    raw = fixture("subscription_created_2024-06-20.json")["data"]["object"]
    # The event's customer is not known: a customer-wide coupon cannot be ruled out, so MRR has a gap.
    unknown = package.subscription({**raw, "customer_discount": {"unknown": True}})
    assert found.subscription == unknown and "customer-wide coupon" in unknown.gaps[0]
    assert found.payment is None
    assert found.identity.account_id == sb.resolve_identity(
        raw, "customer.subscription.created", {}, account_fallback="none", visitor_fallback="skip",
        synthetic_prefix="")["account_id"]


@pytest.mark.parametrize("name", ["invoice_paid_2024-06-20.json", "invoice_paid_basil.json",
                                  "invoice_payment_failed_2024-06-20.json", "invoice_payment_failed_basil.json"])
def test_facts_of_an_invoice_event_carry_the_payment_in_major_units(name):
    raw = fixture(name)["data"]["object"]
    found = package.facts(event(name), {})
    paid = name.startswith("invoice_paid")
    assert found.payment.kind == ("paid" if paid else "failed")
    minor = raw["amount_paid" if paid else "amount_due"]
    assert float(found.payment.amount) == money.to_major(minor, raw["currency"])
    assert found.payment.currency == raw["currency"].upper()
    assert found.payment.subscription_id == sb.subscription_of_invoice(raw)
    assert found.subscription is None
    chain = sb.metadata_chain(raw, {})
    assert (found.identity.account_id, found.identity.visitor_id) == (
        sb.first(chain, "pendo_account_id"), sb.first(chain, "pendo_visitor_id"))


def subscription_event(event_type, raw, previous):
    data = {"object": with_id(raw), **({"previous_attributes": previous} if previous else {})}
    body = {"id": "evt_1", "object": "event", "type": event_type, "created": 1_700_000_000,
            "api_version": "2024-06-20", "data": data}
    return Event(provider="stripe", id="evt_1", type=event_type, created=1_700_000_000.0, livemode=False,
                 api_version="2024-06-20", connect_account=None, customer_id=None, payload=body)


@pytest.mark.parametrize(("event_type", "now", "previous", "expected"),
                         test_lifecycle.test_transitions_follow_previous_attributes.pytestmark[0].args[1])
def test_facts_give_the_same_lifecycle_events_as_stripes_own_rules(event_type, now, previous, expected):
    found = package.facts(subscription_event(event_type, now, previous), {})
    assert lifecycle.changes(found.kind, found.before, found.subscription) == expected


@pytest.mark.parametrize("event_type", ["customer.subscription.paused", "customer.subscription.trial_will_end"])
def test_facts_of_a_notice_change_nothing(event_type):
    found = package.facts(subscription_event(event_type, test_lifecycle.sub("paused"), {"status": "active"}), {})
    assert found.before == found.subscription
    assert lifecycle.changes(found.kind, found.before, found.subscription) == []


def test_the_stored_subscription_object_is_the_canonical_one_with_prices():
    from bridge.providers.stripe import mapping

    created = event("subscription_created_basil.json")
    stored = mapping.subscription_object(created, {})
    assert stored is not None and stored["id"] == fixture("subscription_created_basil.json")["data"]["object"]["id"]
    assert package.subscription(stored) == package.facts(created, {}).subscription
    assert mapping.subscription_object(event("invoice_paid_basil.json"), {}) is None
