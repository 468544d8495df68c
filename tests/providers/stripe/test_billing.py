import json
from pathlib import Path

import pytest

from bridge.providers.stripe import billing as sb

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "stripe"


def fixture_object(name):
    return json.loads((FIXTURES / name).read_text())["data"]["object"]


def item(amount=1000, interval="month", count=1, quantity=1, **price):
    recurring = {"interval": interval, "interval_count": count, "usage_type": price.pop("usage_type", "licensed")}
    return {"quantity": quantity, "price": {"id": "price_x", "billing_scheme": "per_unit", "unit_amount": amount,
                                           "recurring": recurring, **price}}


def subscription(*items, status="active", currency="usd", **extra):
    return {"object": "subscription", "status": status, "currency": currency, "items": {"data": list(items)},
            **extra}


def coupon(duration="forever", **off):
    return {"id": "co_1", "object": "coupon", "duration": duration, **off}


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        (item(1000), 1000.0),
        (item(1000, quantity=3), 3000.0),
        (item(12000, "year"), 1000.0),
        (item(12000, "year", count=2), 500.0),
        (item(1200, "week"), 5200.0),
        (item(12, "day"), 365.0),
        (item(3000, "month", count=3), 1000.0),
        (item(None, unit_amount_decimal="1000.5"), 1000.5),
        (item(1000, quantity=0), 0.0),
        (item(500, usage_type="metered"), 0.0),
        (item(None, usage_type="metered", billing_scheme="tiered"), 0.0),
        (item(None, billing_scheme="tiered"), None),
        (item(1000, quantity=11, transform_quantity={"divide_by": 10, "round": "up"}), 2000.0),
        (item(1000, quantity=11, transform_quantity={"divide_by": 10, "round": "down"}), 1000.0),
        ({"quantity": 2, "plan": {"id": "plan_1", "amount": 2000, "interval": "month", "interval_count": 1,
                                  "usage_type": "licensed"}}, 4000.0),
        ({"plan": {"id": "plan_1", "amount": 24000, "interval": "year", "interval_count": 1}}, 2000.0),
        ({"plan": {"id": "plan_m", "amount": 5, "interval": "month", "usage_type": "metered"}}, 0.0),
        ({"quantity": 1}, None),
    ],
)
def test_monthly_amount_normalises_to_a_month(subject, expected):
    assert sb.monthly_amount(subject) == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize(
    ("status", "expected"),
    [("active", 30.0), ("past_due", 30.0), ("trialing", 0.0), ("incomplete", 0.0), ("unpaid", 0.0),
     ("canceled", 0.0), ("paused", 0.0), ("incomplete_expired", 0.0)],
)
def test_subscription_mrr_counts_only_active_and_past_due(status, expected):
    assert sb.subscription_mrr(subscription(item(1000, quantity=3), status=status)) == expected


@pytest.mark.parametrize(
    ("sub", "expected"),
    [
        (subscription(item(120000, "year"), currency="jpy"), 10000.0),
        (subscription(item(100000, "year"), currency="jpy"), 8333.0),
        (subscription(item(12345), currency="kwd"), 12.35),
        (subscription(item(4900, quantity=3), item(99, usage_type="metered")), 147.0),
        (subscription(item(49000, "year", quantity=5)), 204.17),
        (subscription(item(1000), item(500, "week", count=2)), 20.83),
        (subscription(), 0.0),
    ],
)
def test_subscription_mrr_sums_items_in_major_units(sub, expected):
    assert sb.subscription_mrr(sub) == expected


def test_subscription_mrr_is_unknown_when_an_item_is_tiered():
    sub = subscription(item(1000), item(None, billing_scheme="tiered"))
    assert sb.subscription_mrr(sub) is None
    assert sb.list_mrr(sub) is None
    assert sb.subscription_mrr({**sub, "status": "canceled"}) == 0.0


def test_list_mrr_ignores_status():
    assert sb.list_mrr(subscription(item(4900, quantity=2), status="canceled")) == 98.0


@pytest.mark.parametrize(
    ("discounts", "expected"),
    [
        ({"discount": {"id": "di_1", "coupon": coupon(percent_off=20)}}, 80.0),
        ({"discount": {"id": "di_1", "coupon": coupon("once", percent_off=20)}}, 100.0),
        ({"discount": {"id": "di_1", "coupon": coupon("repeating", percent_off=50)}}, 100.0),
        ({"discount": {"id": "di_1", "coupon": coupon(amount_off=1500, currency="usd")}}, 85.0),
        # In another currency: its amount here comes from currency_options, else it is not known (withheld).
        ({"discount": {"id": "di_1", "coupon": coupon(amount_off=1500, currency="eur")}}, None),
        ({"discount": {"id": "di_1", "coupon": coupon(amount_off=1500, currency="eur",
                                                      currency_options={"usd": {"amount_off": 900}})}}, 91.0),
        ({"discount": {"id": "di_1", "coupon": coupon(amount_off=999999, currency="usd")}}, 0.0),
        ({"discounts": [{"id": "di_2", "coupon": coupon(percent_off=10)}]}, 90.0),
        ({"discounts": ["di_unexpanded"]}, None),  # basil+ ids: the duration is unknown, never guessed
        ({"discount": {"id": "di_3", "source": {"type": "coupon", "coupon": coupon(percent_off=25)}}}, 75.0),
        ({"discount": {"id": "di_4", "coupon": coupon(percent_off=10)},
          "discounts": [{"id": "di_4", "coupon": coupon(percent_off=10)}]}, 90.0),
    ],
)
def test_subscription_mrr_applies_only_forever_coupons(discounts, expected):
    assert sb.subscription_mrr(subscription(item(10000), **discounts)) == expected


def test_subscription_mrr_spreads_a_forever_amount_off_over_the_interval():
    sub = subscription(item(120000, "year"), discount={"id": "di_1", "coupon": coupon(amount_off=12000)})
    assert sb.subscription_mrr(sub) == 90.0


def test_main_item_is_the_largest_and_first_of_equals():
    small, large, equal = item(100, id="a"), item(5000, id="b"), item(5000, id="c")
    assert sb.main_item(subscription(small, large, equal)) is large
    assert sb.main_item(subscription()) is None


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ({"lookup_key": "pro_monthly", "nickname": "Pro", "id": "price_1"}, "pro_monthly"),
        ({"lookup_key": None, "nickname": "Pro", "id": "price_1"}, "Pro"),
        ({"lookup_key": None, "nickname": None, "id": "price_1"}, "price_1"),
    ],
)
def test_plan_name_prefers_lookup_key_then_nickname_then_id(price, expected):
    sub = subscription(item(10, id="price_cheap", lookup_key="cheap"), item(1000, **price))
    assert sb.plan_name(sub) == expected


def test_seats_and_interval_come_from_the_main_item():
    sub = subscription(item(10, "month", quantity=1), item(100000, "year", quantity=7))
    assert (sb.seats(sub), sb.interval(sub)) == (7, "year")
    assert (sb.seats(subscription()), sb.interval(subscription()), sb.plan_name(subscription())) == (
        None, None, None)


@pytest.mark.parametrize(
    ("sub", "expected"),
    [
        ({"current_period_end": 1700000000, "items": {"data": [{"current_period_end": 1}]}}, 1700000000),
        ({"items": {"data": [{"current_period_end": 1700000000}, {"current_period_end": 1700500000}]}},
         1700500000),
        ({"items": {"data": [{}]}}, None),
        ({}, None),
    ],
)
def test_period_end_reads_both_api_shapes(sub, expected):
    assert sb.period_end(sub) == expected


@pytest.mark.parametrize(
    ("invoice", "expected"),
    [
        ({"subscription": "sub_old"}, "sub_old"),
        ({"subscription": {"id": "sub_expanded", "object": "subscription"}}, "sub_expanded"),
        ({"parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_basil"}}},
         "sub_basil"),
        ({"parent": {"subscription_details": {"subscription": {"id": "sub_basil_x"}}}}, "sub_basil_x"),
        ({"subscription": None, "parent": None}, None),
    ],
)
def test_subscription_of_invoice_reads_both_api_shapes(invoice, expected):
    assert sb.subscription_of_invoice(invoice) == expected


@pytest.mark.parametrize(
    ("invoice", "expected"),
    [
        ({"subscription_details": {"metadata": {"k": "old"}}}, {"k": "old"}),
        ({"parent": {"subscription_details": {"metadata": {"k": "basil"}}}}, {"k": "basil"}),
        ({"subscription": {"id": "sub_1", "metadata": {"k": "expanded"}}}, {"k": "expanded"}),
        ({}, {}),
    ],
)
def test_subscription_metadata_of_invoice_reads_both_api_shapes(invoice, expected):
    assert sb.subscription_metadata_of_invoice(invoice) == expected


@pytest.mark.parametrize(
    ("name", "mrr", "plan", "seats", "interval", "period_end"),
    [
        ("subscription_created_2024-06-20.json", 147.0, "pro_monthly", 3, "month", 1738378400),
        ("subscription_updated_2024-06-20.json", 204.17, "business_yearly", 5, "year", 1738378400),
        ("subscription_created_basil.json", 0.0, "Team quarterly", 10, "month", 1743562400),
        ("subscription_updated_basil.json", 900.0, "Team quarterly", 10, "month", 1743562400),
    ],
)
def test_subscription_fixtures_give_billing_fields(name, mrr, plan, seats, interval, period_end):
    sub = fixture_object(name)
    assert (sb.subscription_mrr(sub), sb.plan_name(sub), sb.seats(sub), sb.interval(sub), sb.period_end(sub)) == (
        mrr, plan, seats, interval, period_end)


@pytest.mark.parametrize("name", ["invoice_paid_2024-06-20.json", "invoice_paid_basil.json"])
def test_invoice_fixtures_name_their_subscription(name):
    invoice = fixture_object(name)
    assert sb.subscription_of_invoice(invoice).startswith("sub_")
    assert sb.subscription_metadata_of_invoice(invoice) == {"pendo_account_id": "acme-corp"}


def identity(obj, event_type="customer.subscription.updated", enrichment=None, account="none", visitor="skip"):
    return sb.resolve_identity(obj, event_type, enrichment or {}, account_fallback=account,
                               visitor_fallback=visitor, synthetic_prefix="stripe-customer-")


SUB = {"object": "subscription", "customer": "cus_1", "metadata": {}}
CUSTOMER = {"id": "cus_1", "object": "customer", "email": "ops@acme.example",
            "metadata": {"pendo_account_id": "from-customer", "pendo_visitor_id": "visitor-c"}}


@pytest.mark.parametrize(
    ("obj", "event_type", "enrichment", "account_id", "visitor_id"),
    [
        ({**SUB, "metadata": {"pendo_account_id": "own", "pendo_visitor_id": "v-own"}},
         "customer.subscription.updated", {}, "own", "v-own"),
        ({**SUB, "metadata": {"pendo_account_id": "own"}}, "customer.subscription.updated",
         {"customer": CUSTOMER}, "own", "visitor-c"),
        (SUB, "customer.subscription.updated", {"customer": CUSTOMER}, "from-customer", "visitor-c"),
        ({"object": "invoice", "customer": "cus_1", "subscription": "sub_1",
          "subscription_details": {"metadata": {"pendo_account_id": "from-sub-old"}}}, "invoice.paid", {},
         "from-sub-old", None),
        ({"object": "invoice", "customer": "cus_1",
          "parent": {"subscription_details": {"metadata": {"pendo_account_id": "from-sub-basil"}}}},
         "invoice.paid", {}, "from-sub-basil", None),
        ({"object": "invoice", "customer": "cus_1"}, "invoice.paid",
         {"subscription": {"metadata": {"pendo_account_id": "from-enriched-sub"}}}, "from-enriched-sub", None),
        (CUSTOMER, "customer.updated", {}, "from-customer", "visitor-c"),
        ({"object": "charge", "customer": {"id": "cus_1", "metadata": {"pendo_account_id": "expanded"}}},
         "charge.succeeded", {}, "expanded", None),
        ({**SUB, "metadata": {"pendo_account_id": "  "}}, "customer.subscription.updated", {}, None, None),
    ],
)
def test_resolve_identity_follows_the_metadata_chain(obj, event_type, enrichment, account_id, visitor_id):
    found = identity(obj, event_type, enrichment)
    assert (found["account_id"], found["visitor_id"]) == (account_id, visitor_id)
    assert found["account_source"] == ("metadata" if account_id else None)
    assert found["customer_id"] == "cus_1"


DISPUTE = {"id": "dp_1", "object": "dispute", "charge": "ch_1"}


@pytest.mark.parametrize(
    ("enrichment", "account_id", "customer_id"),
    [
        ({"charge": {"id": "ch_1", "customer": "cus_1"}, "customer": CUSTOMER}, "from-customer", "cus_1"),
        ({"charge": {"id": "ch_1", "customer": "cus_1"}, "customer": {"id": "cus_1", "deleted": True},
          "link": "linked"}, "linked", "cus_1"),
        ({"charge": {"id": "ch_1", "customer": "cus_2"}}, "cus_2", "cus_2"),  # the customer could not be read
        ({"charge": {"id": "ch_1", "customer": None}}, None, None),  # a guest charge
        ({}, None, None),
    ],
)
def test_resolve_identity_takes_a_dispute_customer_from_the_enrichment(enrichment, account_id, customer_id):
    found = identity(DISPUTE, "charge.dispute.created", enrichment, account="stripe_customer")
    assert (found["account_id"], found["customer_id"]) == (account_id, customer_id)


def test_resolve_identity_falls_back_to_the_customer_id_when_configured():
    assert identity(SUB, account="stripe_customer")["account_id"] == "cus_1"
    assert identity(SUB, account="stripe_customer")["account_source"] == "fallback"
    assert identity(SUB, account="none")["account_id"] is None


@pytest.mark.parametrize(
    ("obj", "enrichment", "fallback", "expected"),
    [
        (SUB, {}, "skip", None),
        (SUB, {}, "synthetic", "stripe-customer-cus_1"),
        ({"object": "subscription"}, {}, "synthetic", None),
        (SUB, {"customer": {"id": "cus_1", "email": "a@b.example"}}, "email", "a@b.example"),
        ({"object": "invoice", "customer": "cus_1", "customer_email": "bill@b.example"}, {}, "email",
         "bill@b.example"),
        ({"id": "cus_1", "object": "customer", "email": "self@b.example"}, {}, "email", "self@b.example"),
        (SUB, {}, "email", None),
    ],
)
def test_resolve_identity_visitor_fallbacks(obj, enrichment, fallback, expected):
    assert identity(obj, enrichment=enrichment, visitor=fallback)["visitor_id"] == expected


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        (("customer.subscription.created", "active"), ("customer.subscription.updated", "active")),
        (("customer.subscription.updated", "canceled"), ("customer.subscription.deleted", "canceled")),
        (("customer.subscription.updated", "canceled"), ("customer.subscription.deleted", "active")),
        (("customer.subscription.updated", "incomplete"), ("customer.subscription.updated", "trialing")),
        (("customer.subscription.updated", "trialing"), ("customer.subscription.updated", "active")),
        (("customer.subscription.updated", "active"), ("customer.subscription.updated", "past_due")),
        (("customer.subscription.updated", "past_due"), ("customer.subscription.updated", "unpaid")),
        (("customer.subscription.updated", "unpaid"), ("customer.subscription.updated", "paused")),
        (("customer.subscription.updated", "paused"), ("customer.subscription.updated", "incomplete_expired")),
        (("customer.subscription.updated", "incomplete_expired"), ("customer.subscription.updated", "canceled")),
        (("customer.subscription.updated", None), ("customer.subscription.updated", "incomplete")),
        (("invoice.created", "draft"), ("invoice.finalized", "open")),
        (("invoice.finalized", "open"), ("invoice.payment_failed", "open")),
        (("invoice.payment_failed", "open"), ("invoice.paid", "paid")),
        (("customer.created", None), ("customer.updated", None)),
    ],
)
def test_tie_rank_orders_events_of_the_same_second(lower, higher):
    assert sb.tie_rank(*lower) < sb.tie_rank(*higher)


def test_tie_rank_is_type_then_status():
    assert sb.tie_rank("customer.subscription.deleted", "canceled") == 208
    assert sb.tie_rank("customer.subscription.updated", "something-new") == 100
