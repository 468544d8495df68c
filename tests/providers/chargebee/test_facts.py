"""Chargebee's events in the billing model's terms: each sample, the contract fixtures, and the edge cases."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bridge.billing import mrr
from bridge.billing.model import STATUSES
from bridge.providers.chargebee.facts import facts, subscription
from bridge.providers.chargebee.webhook import ChargebeeProvider, authorization

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "bridge" / "providers" / "chargebee" / "samples"
CONTRACT = ROOT / "tests" / "fixtures" / "contract" / "chargebee"
PROVIDER = ChargebeeProvider("hooks", "s3cret")


def load(path: Path) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(path.read_text())
    return payload


def event_facts(path: Path, enrichment: dict[str, Any] | None = None) -> Any:
    return facts(PROVIDER.parse(path.read_bytes()), enrichment or {})


# --- the contract fixtures. Chargebee sends them as they are, with
# `Authorization: Basic base64("<CHARGEBEE_WEBHOOK_USERNAME>:<CHARGEBEE_WEBHOOK_PASSWORD>")` and nothing signed.

@pytest.mark.parametrize("name", ["created.json", "canceled.json", "created-1-seat.json"])
def test_chargebee_contract_fixture_is_accepted_as_chargebee_sends_it(name: str) -> None:
    body = (CONTRACT / name).read_bytes()
    PROVIDER.verify(body, {"authorization": authorization("hooks", "s3cret")}, now=0.0)
    assert PROVIDER.parse(body).type in ("subscription_created", "subscription_cancelled")


def test_chargebee_contract_created() -> None:
    found = event_facts(CONTRACT / "created.json")
    assert (found.identity.account_id, found.identity.visitor_id) == ("acct-contract", "user-contract")
    sub = found.subscription
    assert sub.status == "active" and sub.currency == "USD"
    assert len(sub.items) == 1
    item = sub.items[0]
    assert item.amount == Decimal("147.00") and item.currency == "USD"
    assert (item.interval, item.interval_count, item.quantity) == ("month", 1, 3)
    assert item.metered is False and item.gap is None
    assert sub.mrr == Decimal("147.00")
    assert sub.canceled_at is None and sub.cancel_at_period_end is False
    assert sub.gaps == ()


def test_chargebee_contract_canceled() -> None:
    found = event_facts(CONTRACT / "canceled.json")
    sub = found.subscription
    assert sub.status == "canceled"
    assert sub.canceled_at == 1_766_188_800.0
    assert found.identity.account_id == "acct-contract"
    assert sub.items[0].amount == Decimal("147.00")


def test_chargebee_contract_created_one_seat() -> None:
    sub = event_facts(CONTRACT / "created-1-seat.json").subscription
    assert sub.mrr == Decimal("49.00")
    assert (sub.items[0].amount, sub.items[0].quantity) == (Decimal("49.00"), 1)


# --- each sample

def test_chargebee_facts_subscription_created() -> None:
    found = event_facts(SAMPLES / "subscription_created.json")
    assert found.identity.customer_id == "AzZTZgUpjQn1x2Lk"
    assert (found.identity.account_id, found.identity.visitor_id) == ("acct-1001", "user-1001")
    assert found.identity.email == "rachel@example.com"
    assert found.customer.name == "Rachel Green"
    assert found.customer.delinquent is None
    assert found.subscription.period_end == 1_767_139_200.0
    assert found.subscription.created_at == 1_764_460_800.0
    assert found.payment is None and found.trial_ending is False


def test_chargebee_facts_product_catalog_1() -> None:
    found = event_facts(SAMPLES / "subscription_created_pc1.json")
    assert (found.identity.account_id, found.identity.visitor_id) == ("acct-2002", "user-2002")  # from meta_data
    plan, addon = found.subscription.items
    assert (plan.price_id, plan.amount, plan.quantity) == ("pro-monthly", Decimal("50.00"), 2)
    assert (addon.price_id, addon.amount, addon.quantity, addon.interval) == (
        "extra-storage", Decimal("10.00"), 1, "month")
    assert found.subscription.mrr == Decimal("60.00")


def test_chargebee_facts_trial_end_reminder() -> None:
    found = event_facts(SAMPLES / "subscription_trial_end_reminder.json")
    assert found.trial_ending is True
    assert found.subscription.status == "trialing"
    assert found.subscription.trial_end == 1_765_670_400.0
    # Chargebee's 0 is what a trial brings now, not its list MRR: the model counts 0 for a trial and lists the items
    assert found.subscription.mrr is None
    assert "Chargebee sent no mrr for this subscription" not in found.subscription.gaps
    assert mrr.mrr(found.subscription).amount == Decimal(0)
    assert mrr.list_mrr(found.subscription).amount == Decimal("147.00")


def test_chargebee_facts_non_renewing_is_active_and_cancels_at_term_end() -> None:
    sub = event_facts(SAMPLES / "subscription_cancellation_scheduled.json").subscription
    assert sub.status == "active"
    assert sub.cancel_at_period_end is True
    assert sub.cancels_at == 1_767_139_200.0
    assert sub.canceled_at is None


def test_chargebee_facts_paused() -> None:
    sub = event_facts(SAMPLES / "subscription_paused.json").subscription
    assert (sub.status, sub.paused, sub.resumes_at) == ("paused", True, 1_768_348_800.0)


def test_chargebee_facts_cancelled() -> None:
    sub = event_facts(SAMPLES / "subscription_cancelled.json").subscription
    assert (sub.status, sub.canceled_at, sub.cancels_at) == ("canceled", 1_767_139_200.0, None)


def test_chargebee_facts_payment_succeeded() -> None:
    payment = event_facts(SAMPLES / "payment_succeeded.json").payment
    assert (payment.kind, payment.amount, payment.currency) == ("paid", Decimal("147.00"), "USD")
    assert (payment.id, payment.invoice_id, payment.subscription_id) == (
        "txn_AzZTZgUpjQoCf2Me", "1042", "AzZTZgUpjQo9v2Mb")
    assert payment.at == 1_764_460_805.0


def test_chargebee_facts_payment_failed() -> None:
    payment = event_facts(SAMPLES / "payment_failed.json").payment
    assert (payment.kind, payment.amount, payment.attempt_count) == ("failed", Decimal("147.00"), 1)
    assert payment.reason == "Card was declined"
    assert payment.invoice_id == "1043"


def test_chargebee_facts_payment_refunded_is_this_refunds_amount() -> None:
    payment = event_facts(SAMPLES / "payment_refunded.json").payment
    assert (payment.kind, payment.amount, payment.id) == ("refunded", Decimal("49.00"), "txn_AzZTZgUpjQwXl2Nt")


def test_chargebee_facts_invoice_generated_gives_identity_only() -> None:
    found = event_facts(SAMPLES / "invoice_generated.json")
    assert found.identity.customer_id == "AzZTZgUpjQn1x2Lk"
    assert found.identity.account_id is None  # the invoice carries no customer: the link table decides
    assert (found.subscription, found.payment, found.customer) == (None, None, None)


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.json")), ids=lambda path: path.name)
def test_chargebee_facts_every_sample_uses_the_model_vocabulary(path: Path) -> None:
    found = event_facts(path)
    if found.subscription is not None:
        assert found.subscription.status in STATUSES
        assert found.subscription.provider == "chargebee"
        assert all(item.interval in ("day", "week", "month", "year") for item in found.subscription.items)
        assert all(isinstance(item.amount, Decimal) for item in found.subscription.items)


# --- the re-fetched event wins

def test_chargebee_facts_prefers_the_refetched_copy() -> None:
    event = PROVIDER.parse((SAMPLES / "subscription_created.json").read_bytes())
    fetched = copy.deepcopy(dict(event.payload))
    fetched["content"]["subscription"]["status"] = "cancelled"
    fetched["content"]["subscription"]["cancelled_at"] = 1_764_500_000
    assert facts(event, {"event": fetched}).subscription.status == "canceled"  # type: ignore[union-attr]


def test_chargebee_facts_ignores_a_copy_of_another_event() -> None:
    event = PROVIDER.parse((SAMPLES / "subscription_created.json").read_bytes())
    other = copy.deepcopy(dict(event.payload))
    other["id"] = "ev_other"
    other["content"]["subscription"]["status"] = "cancelled"
    assert facts(event, {"event": other}).subscription.status == "active"  # type: ignore[union-attr]


# --- subscription(raw): statuses, amounts, gaps

def raw_subscription(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(load(SAMPLES / "subscription_created.json")["content"]["subscription"])
    raw.update(changes)
    return {key: value for key, value in raw.items() if value is not ...}


@pytest.mark.parametrize(
    ("status", "expected"),
    [("in_trial", "trialing"), ("active", "active"), ("non_renewing", "active"), ("paused", "paused"),
     ("cancelled", "canceled"), ("future", None), ("transferred", None), ("something_new", None)],
)
def test_chargebee_subscription_status(status: str, expected: str | None) -> None:
    sub = subscription(raw_subscription(status=status))
    assert sub is not None and sub.status == expected
    assert any("status" in gap for gap in sub.gaps) is (expected is None)


def test_chargebee_subscription_without_mrr_says_so() -> None:
    sub = subscription(raw_subscription(mrr=...))
    assert sub is not None and sub.mrr is None
    assert "Chargebee sent no mrr for this subscription" in sub.gaps
    assert sub.items[0].amount == Decimal("147.00")


def test_chargebee_subscription_zero_decimal_currency() -> None:
    raw = raw_subscription(currency_code="JPY", mrr=14700)
    raw["subscription_items"][0].update(unit_price=4900, amount=14700)
    sub = subscription(raw)
    assert sub is not None and sub.mrr == Decimal(14700) and sub.items[0].amount == Decimal(14700)


def test_chargebee_subscription_item_amount_from_unit_price_when_amount_missing() -> None:
    raw = raw_subscription()
    del raw["subscription_items"][0]["amount"]
    sub = subscription(raw)
    assert sub is not None and sub.items[0].amount == Decimal("147.00")


def test_chargebee_subscription_item_with_free_units_and_no_amount_is_a_gap() -> None:
    raw = raw_subscription()
    del raw["subscription_items"][0]["amount"]
    raw["subscription_items"][0]["free_quantity"] = 1
    sub = subscription(raw)
    assert sub is not None and sub.items[0].amount is None
    assert sub.items[0].gap == "item Pro-USD-Monthly: its amount is not in the payload"
    assert sub.items[0].gap in sub.gaps


def test_chargebee_subscription_multi_decimal_amounts() -> None:
    raw = raw_subscription()
    raw["subscription_items"][0] = {"item_price_id": "Seat-EUR-Yearly", "item_type": "plan",
                                    "quantity_in_decimal": "2.0000", "unit_price_in_decimal": "10.505",
                                    "amount_in_decimal": "21.010", "billing_period": 1,
                                    "billing_period_unit": "year", "object": "subscription_item"}
    item = subscription(raw).items[0]  # type: ignore[union-attr]
    assert (item.amount, item.quantity, item.interval) == (Decimal("21.010"), 2, "year")


def test_chargebee_subscription_leaves_out_one_time_charges_and_marks_metered() -> None:
    raw = raw_subscription()
    raw["subscription_items"] += [
        {"item_price_id": "Setup-USD", "item_type": "charge", "quantity": 1, "unit_price": 9900, "amount": 9900},
        {"item_price_id": "Onboarding-USD", "item_type": "addon", "charge_once": True, "amount": 500},
        {"item_price_id": "Api-Calls-USD-Monthly", "item_type": "addon", "metered_quantity": "1200.00",
         "unit_price": 1, "billing_period": 1, "billing_period_unit": "month"},
    ]
    items = subscription(raw).items  # type: ignore[union-attr]
    assert [item.price_id for item in items] == ["Pro-USD-Monthly", "Api-Calls-USD-Monthly"]
    assert items[1].metered is True and items[1].amount is None and items[1].gap is None


def test_chargebee_subscription_item_period_overrides_the_subscriptions() -> None:
    raw = raw_subscription()
    raw["subscription_items"][0].update(billing_period=3, billing_period_unit="month")
    raw["billing_period_unit"] = "year"
    item = subscription(raw).items[0]  # type: ignore[union-attr]
    assert (item.interval, item.interval_count) == ("month", 3)


def test_chargebee_subscription_unknown_period_is_a_gap() -> None:
    raw = raw_subscription(billing_period_unit=...)
    item = subscription(raw).items[0]  # type: ignore[union-attr]
    assert item.interval is None and "billing period" in (item.gap or "")


def test_chargebee_subscription_pc1_without_price_is_a_gap() -> None:
    raw = load(SAMPLES / "subscription_created_pc1.json")["content"]["subscription"]
    for key in ("plan_amount", "plan_unit_price"):
        del raw[key]
    plan = subscription(raw).items[0]  # type: ignore[union-attr]
    assert plan.amount is None and plan.gap == "item pro-monthly: its amount is not in the payload"


def test_chargebee_subscription_no_items_is_a_gap() -> None:
    sub = subscription(raw_subscription(subscription_items=...))
    assert sub is not None and sub.items == ()
    assert any("no items" in gap for gap in sub.gaps)


def test_chargebee_subscription_discounts_counted_in_mrr() -> None:
    raw = raw_subscription(discounts=[
        {"id": "d_1", "type": "percentage", "percentage": 10.0, "duration_type": "forever",
         "included_in_mrr": True, "apply_on": "invoice_amount", "created_at": 1_764_460_800},
        {"id": "d_2", "type": "fixed_amount", "amount": 500, "currency_code": "USD", "duration_type":
         "limited_period", "period": 3, "period_unit": "month", "apply_till": 1_772_236_800,
         "included_in_mrr": True, "apply_on": "specific_item_price", "item_price_id": "Pro-USD-Monthly"},
        {"id": "d_3", "type": "fixed_amount", "amount": 1000, "duration_type": "one_time",
         "included_in_mrr": False, "apply_on": "invoice_amount"},
    ])
    percent, amount = subscription(raw).discounts  # type: ignore[union-attr]
    assert (percent.percent_off, percent.ends_at, percent.price_ids) == (Decimal("10.0"), None, ())
    assert (amount.amount_off, amount.currency, amount.ends_at, amount.price_ids) == (
        Decimal("5.00"), "USD", 1_772_236_800.0, ("Pro-USD-Monthly",))


def test_chargebee_subscription_coupons_without_amounts_are_a_gap() -> None:
    sub = subscription(raw_subscription(coupons=[{"coupon_id": "WELCOME10", "applied_count": 1}]))
    assert sub is not None and any("coupons" in gap for gap in sub.gaps)


@pytest.mark.parametrize("raw", [{}, {"id": ""}, {"id": 7}, {"id": "x", "object": "customer"}, []])
def test_chargebee_subscription_refuses_what_is_not_one(raw: Any) -> None:
    assert subscription(raw) is None


def test_chargebee_subscription_from_the_api_reads_the_attached_customer() -> None:
    """`bridge sync chargebee` pages carry the customer beside the subscription; the source attaches it."""
    raw = raw_subscription(customer={"id": "AzZTZgUpjQn1x2Lk", "cf_pendo_account_id": "acct-9"})
    event = PROVIDER.parse(json.dumps({"id": "ev_sync", "occurred_at": 1, "event_type": "subscription_changed",
                                       "content": {"subscription": raw}}).encode())
    assert facts(event, {}).identity.account_id == "acct-9"


def test_chargebee_facts_customer_id_comes_from_the_refetched_copy() -> None:
    """A body naming another customer cannot move an event whose copy names none but its invoice's."""
    body = load(SAMPLES / "invoice_generated.json")
    genuine = copy.deepcopy(body)
    body["content"]["invoice"]["customer_id"] = "cus_someone_else"
    event = PROVIDER.parse(json.dumps(body).encode())
    assert event.customer_id == "cus_someone_else"
    assert facts(event, {"event": genuine}).identity.customer_id == "AzZTZgUpjQn1x2Lk"
