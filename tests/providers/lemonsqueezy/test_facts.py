"""Lemon Squeezy's events in the billing model's terms: the contract fixtures, each sample, gaps without a key.

A contract fixture is the webhook body exactly as Lemon Squeezy sends it (`tests/fixtures/contract/lemonsqueezy/
<name>.json`), delivered with `X-Signature: <hex HMAC-SHA256 of the raw body keyed with the signing secret>` (and
`X-Event-Name`), plus what `enrichment` fetches for it (`enrichment/<name>.json`: the price and the store).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import bridge.providers.lemonsqueezy as lemonsqueezy
from bridge.billing.model import Customer
from bridge.providers import Event
from bridge.providers.lemonsqueezy.webhook import sign
from bridge.providers.standard.payload import iso_time

ROOT = Path(__file__).resolve().parents[3]
CONTRACT = ROOT / "tests" / "fixtures" / "contract" / "lemonsqueezy"
SAMPLES = Path(lemonsqueezy.__file__).parent / "samples"
SECRET = "contract-signing-secret"


def received(path: Path) -> Event:
    """The body as the endpoint receives it: signed, verified and parsed."""
    body = path.read_bytes()
    headers = {"x-signature": sign(body, SECRET), "x-event-name": json.loads(body)["meta"]["event_name"],
               "content-type": "application/json"}
    config = lemonsqueezy.configure({"LEMONSQUEEZY_WEBHOOK_SECRET": SECRET})
    assert config is not None
    return lemonsqueezy.webhook(config).receive(body, headers, now=1_750_000_000.0)


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def enriched() -> dict[str, Any]:
    return {"price": load(SAMPLES / "api.price.json"), "store": load(SAMPLES / "api.store.json")}


def test_contract_created() -> None:
    facts = lemonsqueezy.facts(received(CONTRACT / "created.json"), load(CONTRACT / "enrichment" / "created.json"))
    subscription = facts.subscription
    assert subscription is not None
    assert (subscription.status, subscription.currency) == ("active", "USD")
    (item,) = subscription.items
    assert (item.plan, item.amount, item.currency) == ("Pro", Decimal("147.00"), "USD")
    assert (item.interval, item.interval_count, item.quantity, item.metered) == ("month", 1, 3, False)
    assert subscription.gaps == ()
    assert (facts.identity.account_id, facts.identity.visitor_id) == ("acct-contract", "user-contract")


def test_contract_canceled() -> None:
    facts = lemonsqueezy.facts(received(CONTRACT / "canceled.json"), load(CONTRACT / "enrichment" / "canceled.json"))
    subscription = facts.subscription
    assert subscription is not None
    assert subscription.status == "canceled"
    assert subscription.canceled_at == iso_time("2025-02-20T08:00:00.000000Z")
    assert facts.identity.account_id == "acct-contract"


def test_contract_created_single_seat() -> None:
    facts = lemonsqueezy.facts(received(CONTRACT / "created-1-seat.json"),
                               load(CONTRACT / "enrichment" / "created-1-seat.json"))
    assert facts.subscription is not None
    (item,) = facts.subscription.items
    assert (item.amount, item.quantity) == (Decimal("49.00"), 1)


def test_without_an_api_key_the_amount_interval_and_currency_are_gaps() -> None:
    facts = lemonsqueezy.facts(received(CONTRACT / "created.json"), {})
    subscription = facts.subscription
    assert subscription is not None and subscription.status == "active"
    (item,) = subscription.items
    assert (item.amount, item.interval, item.currency, item.quantity) == (None, None, None, 3)
    assert item.price_id == "108000"
    assert any("LEMONSQUEEZY_API_KEY" in gap for gap in subscription.gaps)
    assert facts.identity.account_id == "acct-contract"


def test_cancelled_is_a_grace_period_until_ends_at() -> None:
    subscription = lemonsqueezy.facts(received(SAMPLES / "subscription_cancelled.json"), enriched()).subscription
    assert subscription is not None
    assert (subscription.status, subscription.cancel_at_period_end) == ("active", True)
    assert subscription.cancels_at == iso_time("2025-03-03T10:15:01.000000Z")
    assert subscription.canceled_at is None
    assert "does not say when a cancellation was asked for" in subscription.gaps[0]


def test_a_trial() -> None:
    subscription = lemonsqueezy.facts(received(SAMPLES / "subscription_updated.on_trial.json"), enriched()).subscription
    assert subscription is not None
    assert (subscription.status, subscription.trial_end) == ("trialing", iso_time("2025-02-17T10:15:01.000000Z"))
    assert subscription.items[0].amount == Decimal("49.00")


def test_a_pause_with_its_resume_date() -> None:
    subscription = lemonsqueezy.facts(received(SAMPLES / "subscription_paused.json"), enriched()).subscription
    assert subscription is not None
    assert (subscription.status, subscription.paused) == ("paused", True)
    assert subscription.resumes_at == iso_time("2025-04-03T10:15:01.000000Z")


@pytest.mark.parametrize(("status", "model"), [
    ("on_trial", "trialing"), ("active", "active"), ("paused", "paused"), ("past_due", "past_due"),
    ("unpaid", "unpaid"), ("cancelled", "active"), ("expired", "canceled"), ("something_new", None)])
def test_statuses_map_onto_the_model(status: str, model: str | None) -> None:
    raw = load(SAMPLES / "subscription_created.json")["data"]
    raw["attributes"]["status"] = status
    found = lemonsqueezy.subscription(raw)
    assert found is not None and found.status == model


@pytest.mark.parametrize(("change", "gap"), [
    ({"scheme": "graduated", "tiers": [{"last_unit": "inf", "unit_price": 4900, "fixed_fee": 0}]}, "graduated"),
    ({"scheme": "package", "package_size": 5}, "package"),
    ({"category": "one_time"}, "one_time"),
])
def test_prices_that_are_not_a_flat_unit_price_withhold_the_amount(change: dict[str, Any], gap: str) -> None:
    bundle = enriched()
    bundle["price"]["attributes"].update(change)
    subscription = lemonsqueezy.facts(received(SAMPLES / "subscription_created.json"), bundle).subscription
    assert subscription is not None and subscription.items[0].amount is None
    assert any(gap in line for line in subscription.gaps)


def test_usage_based_lines_are_metered_without_an_amount() -> None:
    body = load(SAMPLES / "subscription_created.json")
    body["data"]["attributes"]["first_subscription_item"].update(is_usage_based=True, quantity=0)
    event = received(SAMPLES / "subscription_created.json")
    event = Event(**{**event.__dict__, "payload": body})
    (item,) = lemonsqueezy.facts(event, enriched()).subscription.items  # type: ignore[union-attr]
    assert (item.metered, item.amount, item.gap) == (True, None, None)


def test_a_zero_decimal_store_currency_uses_its_exponent() -> None:
    bundle = enriched()
    bundle["store"]["attributes"]["currency"] = "JPY"
    bundle["price"]["attributes"]["unit_price"] = 4900
    subscription = lemonsqueezy.facts(received(SAMPLES / "subscription_created.json"), bundle).subscription
    assert subscription is not None and subscription.items[0].amount == Decimal("14700")


def test_payment_success_from_the_invoice() -> None:
    facts = lemonsqueezy.facts(received(SAMPLES / "subscription_payment_success.json"), {})
    assert facts.subscription is None
    payment = facts.payment
    assert payment is not None
    assert (payment.kind, payment.amount, payment.currency) == ("paid", Decimal("147.00"), "USD")
    assert (payment.subscription_id, payment.invoice_id, payment.reason) == ("130001", "140001", "renewal")
    assert payment.at == iso_time("2025-03-03T10:15:04.000000Z")
    assert facts.customer == Customer(id="52000", email="billing@acme.example", name="Ada Lovelace")


def test_payment_failed_from_the_invoice() -> None:
    payment = lemonsqueezy.facts(received(SAMPLES / "subscription_payment_failed.json"), {}).payment
    assert payment is not None and (payment.kind, payment.amount) == ("failed", Decimal("147.00"))


def test_payment_refunded_is_the_refunded_amount_at_its_time() -> None:
    payment = lemonsqueezy.facts(received(SAMPLES / "subscription_payment_refunded.json"), {}).payment
    assert payment is not None
    assert (payment.kind, payment.amount, payment.at) == ("refunded", Decimal("49.00"),
                                                          iso_time("2025-03-05T09:00:00.000000Z"))


def test_order_refunded() -> None:
    facts = lemonsqueezy.facts(received(SAMPLES / "order_refunded.json"), {})
    payment = facts.payment
    assert payment is not None
    assert (payment.kind, payment.id) == ("refunded", "63000")
    assert (payment.amount, payment.currency) == (Decimal("147.00"), "USD")
    assert (payment.invoice_id, payment.subscription_id) == (None, None)
    assert facts.identity.account_id is None and facts.identity.customer_id == "52000"


def test_custom_data_numbers_are_ids() -> None:
    body = load(SAMPLES / "subscription_created.json")
    body["meta"]["custom_data"] = {"pendo_account_id": 42, "pendo_visitor_id": "  "}
    event = Event(**{**received(SAMPLES / "subscription_created.json").__dict__, "payload": body})
    identity = lemonsqueezy.facts(event, {}).identity
    assert (identity.account_id, identity.visitor_id, identity.email) == ("42", None, "billing@acme.example")


def test_subscription_refuses_what_is_not_one() -> None:
    assert lemonsqueezy.subscription({"type": "orders", "id": "1", "attributes": {}}) is None
    assert lemonsqueezy.subscription({"type": "subscriptions", "attributes": {"status": "active"}}) is None


def test_a_decimal_unit_price_is_used_when_given() -> None:
    bundle = enriched()
    bundle["price"]["attributes"]["unit_price_decimal"] = "4900.5"
    subscription = lemonsqueezy.facts(received(SAMPLES / "subscription_created.json"), bundle).subscription
    assert subscription is not None and subscription.items[0].amount == Decimal("147.015")


def test_an_invoice_event_without_custom_data_has_empty_slots_and_the_customer() -> None:
    identity = lemonsqueezy.facts(received(SAMPLES / "subscription_payment_success.json"), {}).identity
    assert (identity.account_id, identity.visitor_id) == (None, None)
    assert (identity.customer_id, identity.email) == ("52000", "billing@acme.example")
