"""Paddle notifications in the billing model's terms: the shipped samples, the contract fixtures, the gaps."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import bridge.providers.paddle as paddle
from bridge.billing.model import STATUSES, Discount, Facts
from bridge.providers import Event
from bridge.providers.paddle.webhook import PaddleProvider, sign

SAMPLES = Path(paddle.__file__).parent / "samples"
CONTRACT = Path(__file__).resolve().parents[2] / "fixtures" / "contract" / "paddle"
SECRET = "pdl_ntfset_01jcontractsecret00000000000_contractSigningKey"


def t(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"{name}.json").read_text())


def event_of(payload: dict[str, Any]) -> Event:
    return PaddleProvider((SECRET,)).parse(json.dumps(payload).encode())


def facts_of(payload: dict[str, Any], enrichment: dict[str, Any] | None = None) -> Facts:
    return paddle.facts(event_of(payload), enrichment or {})


def delivered(name: str) -> Event:
    """A contract fixture as Paddle delivers it: the raw body, signed `ts=…;h1=…` with the endpoint's secret."""
    body = (CONTRACT / name).read_bytes()
    now = 1_740_000_000
    headers = {"paddle-signature": f"ts={now};h1={sign(body, now, SECRET)}"}
    provider = PaddleProvider((SECRET,))
    provider.verify(body, headers, now=now)
    return provider.parse(body)


# The contract: the same subscription as every provider writes it (tests/fixtures/contract/<provider>/).

def test_contract_created_is_pro_three_seats_at_49_usd_a_month() -> None:
    event = delivered("created.json")
    found = paddle.facts(event, {})
    assert event.type == "subscription.created" and event.id == "evt_01jcontractcreated00000000"
    assert found.identity.account_id == "acct-contract" and found.identity.visitor_id == "user-contract"
    assert found.identity.customer_id == "ctm_01jcontractcustomer0000000"
    sub = found.subscription
    assert sub is not None
    assert (sub.provider, sub.status, sub.currency, sub.gaps, sub.discounts) == ("paddle", "active", "USD", (), ())
    (item,) = sub.items
    assert (item.plan, item.amount, item.currency, item.interval, item.interval_count, item.quantity) == (
        "Pro", Decimal("147.00"), "USD", "month", 1, 3)
    assert item.metered is False and item.gap is None
    assert sub.period_end == t("2025-03-03T10:15:00Z")
    assert sub.cancel_at_period_end is False and sub.canceled_at is None and sub.paused is False
    assert sub.mrr is None  # Paddle publishes no MRR; the core computes it from the items


def test_contract_created_one_seat_is_49() -> None:
    sub = paddle.facts(delivered("created-1-seat.json"), {}).subscription
    assert sub is not None
    (item,) = sub.items
    assert (item.amount, item.quantity) == (Decimal("49.00"), 1)


def test_contract_canceled_has_its_cancel_time() -> None:
    found = paddle.facts(delivered("canceled.json"), {})
    sub = found.subscription
    assert sub is not None
    assert sub.status == "canceled"
    assert sub.canceled_at == t("2025-02-20T16:40:12Z")
    assert sub.id == "sub_01jcontractsubscription000"
    assert found.identity.account_id == "acct-contract"


def test_contract_fixtures_are_bodies_without_a_trailing_newline() -> None:
    for name in ("created.json", "created-1-seat.json", "canceled.json"):
        assert not (CONTRACT / name).read_bytes().endswith(b"\n")


# The shipped samples (built from PaddleHQ/paddle-python-sdk tests/Unit/Entities/_fixtures/notification/entity/).

@pytest.mark.parametrize("name", sorted(p.stem for p in SAMPLES.glob("*.json")))
def test_every_sample_parses_and_gives_facts(name: str) -> None:
    event = event_of(sample(name))
    assert event.type == name
    found = paddle.facts(event, {})
    assert found.identity.customer_id is not None and found.identity.customer_id.startswith("ctm_")
    if name.startswith("subscription."):
        assert found.subscription is not None and found.subscription.status in STATUSES


@pytest.mark.parametrize(("name", "status"), [
    ("subscription.created", "active"), ("subscription.activated", "active"), ("subscription.updated", "active"),
    ("subscription.trialing", "trialing"), ("subscription.past_due", "past_due"), ("subscription.paused", "paused"),
    ("subscription.resumed", "active"), ("subscription.canceled", "canceled"),
])
def test_subscription_samples_map_their_status(name: str, status: str) -> None:
    sub = facts_of(sample(name)).subscription
    assert sub is not None and sub.status == status
    assert sub.paused is (status == "paused")


def test_subscription_sample_items_are_seats_times_unit_price() -> None:
    sub = facts_of(sample("subscription.activated")).subscription
    assert sub is not None
    assert [(i.plan, i.amount, i.quantity, i.interval) for i in sub.items] == [
        ("AeroEdit Pro", Decimal("300.00"), 10, "month"), ("Analytics addon", Decimal("100.00"), 1, "month")]
    assert sub.gaps == ()


def test_subscription_discount_without_its_entity_is_unknown_and_said() -> None:
    sub = facts_of(sample("subscription.created")).subscription
    assert sub is not None
    (discount,) = sub.discounts
    assert discount.percent_off is None and discount.amount_off is None
    assert discount.ends_at == t(sample("subscription.created")["data"]["discount"]["ends_at"])
    assert any("discount" in gap and "mrr is not sent" in gap for gap in sub.gaps)


@pytest.mark.parametrize(("entity", "expected"), [
    ({"type": "percentage", "amount": "12.5"}, Discount(percent_off=Decimal("12.5"))),
    ({"type": "flat", "amount": "1000", "currency_code": "USD"}, Discount(amount_off=Decimal("10.00"),
                                                                         currency="USD")),
    ({"type": "flat_per_seat", "amount": "100", "currency_code": "USD"}, Discount(amount_off=Decimal("11.00"),
                                                                                  currency="USD")),
])
def test_subscription_discount_from_enrichment(entity: dict[str, Any], expected: Discount) -> None:
    payload = sample("subscription.paused")
    discount_id = payload["data"]["discount"]["id"]
    sub = facts_of(payload, {"discount": {"id": discount_id, **entity}}).subscription
    assert sub is not None
    assert sub.discounts == (expected,)  # 10 + 1 seats for flat_per_seat
    assert not any("discount" in gap for gap in sub.gaps)


def test_subscription_discount_restricted_to_a_price_names_it() -> None:
    payload = sample("subscription.paused")
    price_id = payload["data"]["items"][1]["price"]["id"]
    entity = {"id": payload["data"]["discount"]["id"], "type": "flat_per_seat", "amount": "100",
              "currency_code": "USD", "restrict_to": [price_id]}
    sub = facts_of(payload, {"discount": entity}).subscription
    assert sub is not None
    assert sub.discounts == (Discount(amount_off=Decimal("1.00"), currency="USD", price_ids=(price_id,)),)


def test_subscription_trialing_has_its_trial_end() -> None:
    payload = sample("subscription.trialing")
    sub = facts_of(payload).subscription
    assert sub is not None
    assert sub.trial_end == t(payload["data"]["items"][0]["trial_dates"]["ends_at"])
    # its price has overrides only in EUR and GBP: the USD subscription pays the base price
    assert sub.items[0].amount == Decimal("50.00") and sub.gaps == ()


def test_subscription_updated_with_a_scheduled_cancel_at_period_end() -> None:
    payload = sample("subscription.updated")
    sub = facts_of(payload).subscription
    assert sub is not None
    end = t(payload["data"]["current_billing_period"]["ends_at"])
    assert (sub.cancel_at_period_end, sub.cancels_at, sub.period_end) == (True, end, end)


def test_subscription_scheduled_cancel_before_period_end_is_not_at_period_end() -> None:
    payload = copy.deepcopy(sample("subscription.updated"))
    payload["data"]["scheduled_change"]["effective_at"] = "2024-04-30T00:00:00Z"
    sub = facts_of(payload).subscription
    assert sub is not None
    assert (sub.cancel_at_period_end, sub.cancels_at) == (False, t("2024-04-30T00:00:00Z"))


def test_subscription_paused_with_a_scheduled_resume() -> None:
    payload = copy.deepcopy(sample("subscription.paused"))
    payload["data"]["scheduled_change"] = {"action": "resume", "effective_at": "2024-06-01T00:00:00Z",
                                           "resume_at": None}
    sub = facts_of(payload).subscription
    assert sub is not None and sub.paused is True and sub.resumes_at == t("2024-06-01T00:00:00Z")


def _with_overrides(currency: str) -> dict[str, Any]:
    payload = copy.deepcopy(sample("subscription.activated"))
    payload["data"]["items"][0]["price"]["unit_price_overrides"] = [
        {"country_codes": ["CA"], "unit_price": {"amount": "2500", "currency_code": currency}}]
    return payload


def test_subscription_price_override_in_its_currency_is_withheld_without_the_country() -> None:
    sub = facts_of(_with_overrides("USD")).subscription
    assert sub is not None
    assert sub.items[0].amount is None and sub.items[0].gap is not None
    assert sub.items[1].amount == Decimal("100.00")
    assert any("country overrides" in gap for gap in sub.gaps)


@pytest.mark.parametrize(("country", "amount"), [("CA", Decimal("250.00")), ("US", Decimal("300.00"))])
def test_subscription_price_override_follows_the_address_country(country: str, amount: Decimal) -> None:
    sub = facts_of(_with_overrides("USD"), {"address": {"country_code": country}}).subscription
    assert sub is not None and sub.items[0].amount == amount and sub.gaps == ()


def test_subscription_price_in_another_currency_is_withheld() -> None:
    payload = copy.deepcopy(sample("subscription.activated"))
    payload["data"]["currency_code"] = "EUR"
    sub = facts_of(payload).subscription
    assert sub is not None
    assert all(item.amount is None for item in sub.items)
    assert any("another currency" in gap for gap in sub.gaps)


def test_subscription_zero_decimal_currency_uses_its_exponent() -> None:
    payload = copy.deepcopy(sample("subscription.activated"))
    payload["data"]["currency_code"] = "JPY"
    for item in payload["data"]["items"]:
        item["price"]["unit_price"] = {"amount": "4900", "currency_code": "JPY"}
    sub = facts_of(payload).subscription
    assert sub is not None and sub.items[0].amount == Decimal("49000")


@pytest.mark.parametrize(("tax_mode", "withheld"), [
    ("internal", True), ("location", True), ("external", False), ("account_setting", False)])
def test_subscription_price_that_may_include_tax_is_withheld(tax_mode: str, withheld: bool) -> None:
    payload = copy.deepcopy(sample("subscription.activated"))
    payload["data"]["items"][0]["price"]["tax_mode"] = tax_mode
    sub = facts_of(payload).subscription
    assert sub is not None
    assert (sub.items[0].amount is None) is withheld
    assert any("include tax" in gap for gap in sub.gaps) is withheld
    assert sub.items[1].amount == Decimal("100.00")


def test_subscription_in_a_currency_paddle_does_not_list_is_withheld() -> None:
    payload = copy.deepcopy(sample("subscription.activated"))
    payload["data"]["currency_code"] = "KWD"  # three decimals in ISO 4217; Paddle does not sell in it
    for item in payload["data"]["items"]:
        item["price"]["unit_price"] = {"amount": "4900", "currency_code": "KWD"}
    sub = facts_of(payload).subscription
    assert sub is not None and all(item.amount is None for item in sub.items)
    assert any("does not list" in gap for gap in sub.gaps)


def test_subscription_leaves_out_one_time_charges_and_inactive_items() -> None:
    payload = copy.deepcopy(sample("subscription.updated"))
    payload["data"]["items"][1]["recurring"] = False
    payload["data"]["items"][2]["status"] = "inactive"
    sub = facts_of(payload).subscription
    assert sub is not None and [i.plan for i in sub.items] == ["AeroEdit Pro"]


@pytest.mark.parametrize(("path", "value", "gap"), [
    (("status",), "mystery", "status"),
    (("items", 0, "price", "billing_cycle", "interval"), "fortnight", "billing cycle"),
    (("items", 0, "price", "unit_price", "amount"), "12.5", "unit amount"),
    (("items", 0, "quantity"), None, "quantity"),
])
def test_subscription_unreadable_values_are_none_with_a_gap(path: tuple[Any, ...], value: Any, gap: str) -> None:
    payload = copy.deepcopy(sample("subscription.activated"))
    target = payload["data"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    sub = facts_of(payload).subscription
    assert sub is not None
    assert any(gap in line for line in sub.gaps)


def test_subscription_of_a_non_subscription_is_none() -> None:
    assert paddle.subscription(sample("transaction.completed")["data"]) is None
    assert paddle.subscription({"id": 5}) is None
    assert paddle.subscription(sample("subscription.created")["data"]) is not None


# Payments

def test_transaction_completed_is_a_paid_payment() -> None:
    payload = sample("transaction.completed")
    payment = facts_of(payload).payment
    assert payment is not None
    assert (payment.kind, payment.amount, payment.currency) == ("paid", Decimal("652.15"), "USD")
    captured = next(p for p in payload["data"]["payments"] if p["status"] == "captured")
    assert payment.at == t(captured["captured_at"])
    assert payment.subscription_id == payload["data"]["subscription_id"]
    assert payment.id == payment.invoice_id == payload["data"]["id"]


def test_transaction_paid_is_not_counted_twice() -> None:
    assert facts_of(sample("transaction.paid")).payment is None


def test_transaction_payment_failed_has_the_reason_of_the_latest_attempt() -> None:
    payload = sample("transaction.payment_failed")
    payment = facts_of(payload).payment
    assert payment is not None
    assert (payment.kind, payment.amount, payment.reason, payment.attempt_count) == (
        "failed", Decimal("652.15"), "declined", 1)
    assert payment.at == t(payload["data"]["payments"][0]["created_at"])


def test_adjustment_refund_counts_once_approved() -> None:
    assert facts_of(sample("adjustment.created")).payment is None  # pending_approval
    payload = sample("adjustment.updated")
    payment = facts_of(payload).payment
    assert payment is not None
    assert (payment.kind, payment.amount, payment.currency, payment.reason) == (
        "refunded", Decimal("1.00"), "USD", "error")
    assert payment.at == t(payload["data"]["updated_at"])
    assert payment.invoice_id == payload["data"]["transaction_id"]


@pytest.mark.parametrize(("action", "status", "kind"), [
    ("chargeback", "approved", "disputed"), ("refund", "rejected", None), ("credit", "approved", None),
    ("chargeback_warning", "approved", None), ("chargeback_reverse", "approved", None),
])
def test_adjustment_actions(action: str, status: str, kind: str | None) -> None:
    """What each adjustment action states when it is created."""
    payload = copy.deepcopy(sample("adjustment.created"))
    payload["data"].update(action=action, status=status)
    payment = facts_of(payload).payment
    assert (payment.kind if payment else None) == kind


# Identity

def test_identity_falls_back_to_the_customers_custom_data() -> None:
    payload = copy.deepcopy(sample("subscription.created"))
    payload["data"]["custom_data"] = {"other": "x"}
    customer = {"id": payload["data"]["customer_id"], "email": "sam@example.com", "name": "Sam",
                "custom_data": {"pendo_account_id": "acct-from-customer", "pendo_visitor_id": "user-from-customer"}}
    found = facts_of(payload, {"customer": customer})
    assert found.identity.account_id == "acct-from-customer"
    assert found.identity.visitor_id == "user-from-customer"
    assert found.identity.email == "sam@example.com"
    assert found.customer is not None and found.customer.email == "sam@example.com"


def test_identity_prefers_the_subscription_over_the_customer() -> None:
    customer = {"id": "ctm_01x", "custom_data": {"pendo_account_id": "acct-from-customer"}}
    found = facts_of(sample("subscription.created"), {"customer": customer})
    assert found.identity.account_id == "acct-aeroedit"


def test_identity_of_a_transaction_reads_its_subscription_then_itself() -> None:
    payload = copy.deepcopy(sample("transaction.completed"))
    assert facts_of(payload).identity.account_id is None
    payload["data"]["custom_data"] = {"pendo_account_id": "acct-on-transaction"}
    assert facts_of(payload).identity.account_id == "acct-on-transaction"
    subscription = {"id": payload["data"]["subscription_id"], "custom_data": {"pendo_account_id": "acct-on-sub"}}
    assert facts_of(payload, {"subscription": subscription}).identity.account_id == "acct-on-sub"


def test_identity_of_a_customer_event_is_the_customer() -> None:
    payload = copy.deepcopy(sample("customer.created"))
    payload["data"]["custom_data"] = {"pendo_account_id": "acct-c", "pendo_visitor_id": "  "}
    found = facts_of(payload)
    assert found.identity.account_id == "acct-c" and found.identity.visitor_id is None
    assert found.customer is not None and found.customer.name == "Jo Brown"
    assert found.subscription is None and found.payment is None


def test_adjustment_chargeback_updated_later_is_no_second_dispute() -> None:
    payload = copy.deepcopy(sample("adjustment.updated"))
    payload["data"].update(action="chargeback", status="reversed")
    assert facts_of(payload).payment is None
