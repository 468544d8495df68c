"""Braintree notifications in the billing model's terms: the contract fixtures and each sample."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

import bridge.providers.braintree as braintree
from bridge.billing.model import Customer, Discount
from bridge.providers import Event
from bridge.providers.braintree.notification import decode
from bridge.providers.braintree.times import months_between
from bridge.providers.braintree.webhook import BraintreeProvider, event

ROOT = Path(__file__).resolve().parents[3]
CONTRACT = ROOT / "tests" / "fixtures" / "contract" / "braintree"
SAMPLES = Path(braintree.__file__).parent / "samples"
# The contract fixtures are form bodies exactly as Braintree posts them (Content-Type
# application/x-www-form-urlencoded, no signature header): `bt_signature` is `contract_public_key|<hex HMAC-SHA1 of
# bt_payload keyed with SHA-1("contract_private_key")>`, `bt_payload` the base64 XML with its line breaks.
PROVIDER = BraintreeProvider("contract_public_key", "contract_private_key")


def received(name: str) -> Event:
    return PROVIDER.receive((CONTRACT / name).read_bytes(), {"content-type": "application/x-www-form-urlencoded"},
                            now=0.0)


def sample(name: str) -> Event:
    payload = base64.encodebytes((SAMPLES / name).read_bytes()).decode()
    return event(decode(payload), payload)


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_contract_created() -> None:
    facts = braintree.facts(received("created.form"), {})
    sub = facts.subscription
    assert sub is not None
    assert (facts.identity.account_id, facts.identity.visitor_id) == ("acct-contract", "user-contract")
    assert (facts.identity.customer_id, facts.identity.email) == ("cus_48213", "dana@contract.example")
    assert (sub.id, sub.status, sub.currency, sub.discounts, sub.gaps) == ("sub_7hq2kd", "active", "USD", (), ())
    assert len(sub.items) == 1
    item = sub.items[0]
    assert (item.plan, item.price_id, item.amount, item.currency, item.interval, item.interval_count,
            item.quantity) == ("Pro", "seat", Decimal("147.00"), "USD", "month", 1, 3)
    assert (sub.canceled_at, sub.cancel_at_period_end, sub.cancels_at, sub.paused) == (None, False, None, False)
    assert sub.period_end == at("2026-12-02T00:00:00") and sub.created_at == at("2026-11-02T09:20:11")
    assert facts.customer == Customer(id="cus_48213", email="dana@contract.example", name="Dana Reyes")
    assert facts.payment is None


def test_contract_created_one_seat() -> None:
    sub = braintree.facts(received("created-1-seat.form"), {}).subscription
    assert sub is not None and sub.status == "active"
    assert (sub.items[0].amount, sub.items[0].quantity, sub.items[0].interval) == (Decimal("49.00"), 1, "month")


def test_contract_canceled() -> None:
    facts = braintree.facts(received("canceled.form"), {})
    sub = facts.subscription
    assert sub is not None
    assert sub.status == "canceled" and sub.canceled_at == at("2026-11-20T16:45:02")
    assert (sub.period_end, sub.cancels_at, sub.cancel_at_period_end) == (None, None, False)
    assert facts.identity.account_id == "acct-contract"


def test_charged_successfully_is_a_paid_payment_of_the_newest_transaction() -> None:
    facts = braintree.facts(sample("subscription_charged_successfully.xml"), {})
    assert facts.payment is not None
    assert (facts.payment.kind, facts.payment.id, facts.payment.amount, facts.payment.currency) == (
        "paid", "txn_8w3r2m", Decimal("147.00"), "USD")
    assert facts.payment.at == at("2026-12-02T10:04:49") and facts.payment.subscription_id == "sub_7hq2kd"
    sub = facts.subscription
    assert sub is not None and sub.status == "active" and sub.period_end == at("2027-01-02T00:00:00")
    assert sub.items[0].interval_count == 1


def test_charged_unsuccessfully_is_a_failed_payment_and_past_due() -> None:
    facts = braintree.facts(sample("subscription_charged_unsuccessfully.xml"), {})
    assert facts.payment is not None
    assert (facts.payment.kind, facts.payment.amount, facts.payment.attempt_count, facts.payment.reason) == (
        "failed", Decimal("147.00"), 1, "Insufficient Funds")
    assert facts.subscription is not None and facts.subscription.status == "past_due"


def test_trial_is_trialing_until_the_first_billing_date_with_gaps_for_what_is_unknown() -> None:
    facts = braintree.facts(sample("subscription_trial.xml"), {})
    sub = facts.subscription
    assert sub is not None
    assert sub.status == "trialing" and sub.trial_end == at("2026-11-16T00:00:00")
    assert sub.currency is None and sub.items[0].amount == Decimal("147.00") and sub.items[0].interval is None
    assert any("currency" in gap and "acmesaasUSD" in gap for gap in sub.gaps)
    assert any("billing frequency" in gap for gap in sub.gaps)
    assert facts.identity.customer_id == "token:pm_9x2c4v" and facts.identity.account_id is None


def test_a_trial_past_its_first_billing_date_is_active() -> None:
    raw = sample("subscription_trial.xml").payload["notification"]["subject"]["subscription"]
    sub = braintree.facts(sample("subscription_trial.xml"), {}).subscription
    later = braintree.subscription({**raw, "updated_at": "2026-11-16T09:00:00Z"})
    assert sub is not None and later is not None
    assert (sub.status, later.status) == ("trialing", "active")


def test_dispute_opened_is_a_disputed_payment() -> None:
    facts = braintree.facts(sample("dispute_opened.xml"), {})
    assert facts.subscription is None
    assert facts.payment is not None
    assert (facts.payment.kind, facts.payment.id, facts.payment.amount, facts.payment.currency,
            facts.payment.invoice_id, facts.payment.reason) == (
        "disputed", "dsp_3k9v2x", Decimal("147.00"), "USD", "txn_8w3r2m", "fraud")
    assert facts.payment.at == at("2026-12-10T14:02:31")


def _raw(**changes: object) -> dict[str, object]:
    raw = dict(sample("subscription_charged_successfully.xml").payload["notification"]["subject"]["subscription"])
    raw.update(changes)
    return raw


@pytest.mark.parametrize(("status", "expected"), [
    ("Active", "active"), ("Past Due", "past_due"), ("Canceled", "canceled"), ("Expired", "canceled"),
    ("Pending", None), ("Frozen", None)])
def test_status_mapping(status: str, expected: str | None) -> None:
    sub = braintree.subscription(_raw(status=status))
    assert sub is not None and sub.status == expected
    assert (expected is None) == any("status" in gap for gap in sub.gaps)


def test_plan_price_and_add_ons_are_separate_lines_and_only_lasting_discounts_count() -> None:
    sub = braintree.subscription(_raw(price="20.00", discounts=[
        {"id": "loyal", "amount": "5.00", "quantity": 2, "never_expires": True},
        {"id": "intro", "amount": "10.00", "quantity": 1, "never_expires": False, "number_of_billing_cycles": 3}]))
    assert sub is not None
    assert [(i.price_id, i.amount, i.quantity) for i in sub.items] == [
        ("Pro", Decimal("20.00"), 1), ("seat", Decimal("147.00"), 3)]
    assert sub.discounts == (Discount(amount_off=Decimal("10.00"), currency="USD"),)


def test_a_subscription_in_its_last_billing_cycle_cancels_at_period_end() -> None:
    sub = braintree.subscription(_raw(never_expires=False, number_of_billing_cycles=2, current_billing_cycle=2))
    assert sub is not None
    assert sub.cancel_at_period_end is True and sub.cancels_at == sub.period_end == at("2027-01-02T00:00:00")


def test_an_unreadable_price_is_withheld_with_a_gap() -> None:
    sub = braintree.subscription(_raw(price="lots", add_ons=[]))
    assert sub is not None and sub.items[0].amount is None and sub.items[0].gap
    assert sub.items[0].gap in sub.gaps


@pytest.mark.parametrize(("start", "end", "months"), [
    ("2026-01-01", "2026-01-31", 1), ("2026-01-31", "2026-02-27", 1), ("2026-11-02", "2027-02-01", 3),
    ("2026-01-15", "2027-01-14", 12), ("2026-01-01", "2026-01-20", None), ("2026-03-01", "2026-02-27", None)])
def test_months_between(start: str, end: str, months: int | None) -> None:
    assert months_between(date.fromisoformat(start), date.fromisoformat(end)) == months


def test_subscription_is_none_for_what_is_not_one() -> None:
    assert braintree.subscription({"id": "x"}) is None and braintree.subscription({}) is None

