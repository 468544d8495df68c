"""Recurly's events in the billing model's terms: the contract fixtures, each sample, and what is left without a key.

A Recurly contract fixture is two files: the JSON webhook body exactly as Recurly sends it
(`tests/fixtures/contract/recurly/<name>.json`, light: ids only) and the objects `enrichment` fetches for it from the
API (`enrichment/<name>.json`: `subscription`, `account`, `plan`). The body is delivered signed as Recurly signs it:
`recurly-signature: {unix ms},{hex HMAC-SHA256 of "{unix ms}.{body}" keyed with the endpoint secret}`.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import bridge.providers.recurly as recurly
from bridge.billing.model import STATUSES, Customer, Discount, Identity
from bridge.providers import Event
from bridge.providers.recurly.webhook import sign
from bridge.providers.standard.payload import iso_time

ROOT = Path(__file__).resolve().parents[3]
CONTRACT = ROOT / "tests" / "fixtures" / "contract" / "recurly"
SAMPLES = Path(recurly.__file__).parent / "samples"
SECRET = "c0ffee" * 10 + "beef"


def received(path: Path) -> Event:
    """The fixture as the endpoint receives it: signed a second after its event time, verified and parsed."""
    body = path.read_bytes()
    sent = iso_time(json.loads(body)["event_time"])
    assert sent is not None
    timestamp_ms = int(sent * 1000) + 1000
    headers = {"recurly-signature": f"{timestamp_ms},{sign(body, timestamp_ms, SECRET)}",
               "content-type": "application/json"}
    provider = recurly.webhook(recurly.configure({"RECURLY_WEBHOOK_SECRET": SECRET}))  # type: ignore[arg-type]
    return provider.receive(body, headers, now=sent + 2)


def enrichment(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CONTRACT / "enrichment" / f"{name}.json").read_text())
    return loaded


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text())
    return loaded


def test_contract_created() -> None:
    facts = recurly.facts(received(CONTRACT / "created.json"), enrichment("created"))
    subscription = facts.subscription
    assert subscription is not None
    assert subscription.status == "active"
    assert subscription.currency == "USD"
    (item,) = subscription.items
    assert (item.plan, item.amount, item.currency) == ("Pro", Decimal("147.00"), "USD")
    assert (item.interval, item.interval_count, item.quantity, item.metered) == ("month", 1, 3, False)
    assert subscription.cancel_at_period_end is False and subscription.canceled_at is None
    assert subscription.gaps == ()
    assert facts.identity.account_id == "acct-contract"
    assert facts.identity.visitor_id == "user-contract"


def test_contract_canceled() -> None:
    facts = recurly.facts(received(CONTRACT / "canceled.json"), enrichment("canceled"))
    subscription = facts.subscription
    assert subscription is not None
    assert subscription.status == "canceled"
    assert subscription.canceled_at == iso_time("2025-02-20T08:00:00Z")
    assert facts.identity.account_id == "acct-contract"


def test_contract_created_single_seat() -> None:
    facts = recurly.facts(received(CONTRACT / "created-1-seat.json"), enrichment("created-1-seat"))
    assert facts.subscription is not None
    (item,) = facts.subscription.items
    assert (item.amount, item.quantity, item.interval) == (Decimal("49.00"), 1, "month")


def test_contract_bodies_are_light_json_webhooks() -> None:
    for name in ("created", "canceled", "created-1-seat"):
        body = json.loads((CONTRACT / f"{name}.json").read_text())
        assert set(body) == {"id", "object_type", "site_id", "event_type", "event_time", "uuid"}
        assert enrichment(name)["subscription"]["uuid"] == body["uuid"]


def test_without_an_api_key_a_canceled_event_says_only_what_its_type_says() -> None:
    facts = recurly.facts(received(SAMPLES / "subscription.canceled.json"), {})
    subscription = facts.subscription
    assert subscription is not None
    assert (subscription.status, subscription.cancel_at_period_end) == ("active", True)
    assert subscription.items == () and subscription.period_end is None
    assert any("RECURLY_API_KEY" in gap for gap in subscription.gaps)
    assert facts.identity == Identity()


def test_without_an_api_key_an_expired_event_is_canceled_at_its_time() -> None:
    event = received(SAMPLES / "subscription.expired.json")
    subscription = recurly.facts(event, {}).subscription
    assert subscription is not None
    assert (subscription.status, subscription.canceled_at) == ("canceled", event.created)


def test_without_an_api_key_a_created_event_withholds_the_status() -> None:
    subscription = recurly.facts(received(SAMPLES / "subscription.created.json"), {}).subscription
    assert subscription is not None and subscription.status is None
    assert "does not say the subscription's status" in subscription.gaps[0]


def test_sample_subscription_with_its_plan_and_account() -> None:
    enriched = {"subscription": sample("api.subscription"), "customer": sample("api.account"),
                "plan": sample("api.plan")}
    facts = recurly.facts(received(SAMPLES / "subscription.created.json"), enriched)
    assert facts.subscription is not None and facts.subscription.status in STATUSES
    assert facts.subscription.period_end == iso_time("2025-03-03T10:15:01Z")
    assert facts.customer == Customer(id="afake0acct01", email="billing@acme.example", name="Ada Lovelace",
                                      delinquent=False)
    assert facts.identity.customer_id == "afake0acct01"
    assert facts.identity.email == "billing@acme.example"
    assert facts.payment is None


@pytest.mark.parametrize(("state", "status", "at_period_end"), [
    ("active", "active", False), ("canceled", "active", True), ("expired", "canceled", False),
    ("paused", "paused", False),
])
def test_subscription_states_map_onto_the_model(state: str, status: str, at_period_end: bool) -> None:
    raw = {**sample("api.subscription"), "state": state, "expires_at": "2025-03-03T10:15:01Z",
           "canceled_at": "2025-02-20T08:00:00Z" if state in ("canceled", "expired") else None}
    found = recurly.subscription(raw)
    assert found is not None
    assert (found.status, found.cancel_at_period_end) == (status, at_period_end)
    assert found.cancels_at == (iso_time("2025-03-03T10:15:01Z") if state == "canceled" else None)
    assert found.paused is (state == "paused")


@pytest.mark.parametrize("state", ["future", "failed", "something_new"])
def test_subscription_states_without_an_equivalent_are_withheld(state: str) -> None:
    found = recurly.subscription({**sample("api.subscription"), "state": state})
    assert found is not None and found.status is None
    assert any(state in gap for gap in found.gaps)


def test_an_active_subscription_in_its_trial_period_is_trialing() -> None:
    raw = {**sample("api.subscription"), "trial_started_at": "2025-02-03T10:15:01Z",
           "trial_ends_at": "2025-03-03T10:15:01Z"}
    found = recurly.subscription(raw)
    assert found is not None and found.status == "trialing"
    assert found.trial_end == iso_time("2025-03-03T10:15:01Z")


def test_a_subscription_listed_without_its_plan_has_an_interval_gap() -> None:
    found = recurly.subscription(sample("api.subscription"))
    assert found is not None
    (item,) = found.items
    assert item.amount == Decimal("147.0") and item.interval is None
    assert found.gaps == ("the plan's billing interval is unknown (the plan was not fetched)",)


def test_add_ons_discounts_and_usage_lines() -> None:
    raw = {**sample("api.subscription"),
           "add_ons": [{"add_on": {"id": "ao1", "code": "support", "name": "Support", "add_on_type": "fixed"},
                        "quantity": 2, "unit_amount": 10.5},
                       {"add_on": {"id": "ao2", "code": "calls", "name": "API calls", "add_on_type": "usage"},
                        "quantity": 0, "unit_amount_decimal": "0.001"}],
           "coupon_redemptions": [
               {"state": "active", "coupon": {"code": "TEN", "discount": {"type": "percent", "percent": 10}}},
               {"state": "active", "coupon": {"code": "FIVE", "discount": {"type": "fixed", "currencies": [
                   {"currency": "EUR", "amount": 4}, {"currency": "USD", "amount": 5}]}}},
               {"state": "inactive", "coupon": {"code": "OLD", "discount": {"type": "percent", "percent": 50}}}]}
    found = recurly.subscription(raw)
    assert found is not None
    base, support, calls = found.items
    assert base.amount == Decimal("147.0")
    assert (support.plan, support.amount, support.quantity) == ("Support", Decimal("21.0"), 2)
    assert (calls.metered, calls.amount) == (True, None)
    assert found.discounts == (Discount(percent_off=Decimal("10")), Discount(amount_off=Decimal("5"), currency="USD"))
    assert any("coupon's duration" in gap for gap in found.gaps)


def test_a_float_unit_amount_keeps_its_written_cents() -> None:
    found = recurly.subscription({**sample("api.subscription"), "unit_amount": 49.99, "quantity": 3})
    assert found is not None and found.items[0].amount == Decimal("149.97")


def test_tax_inclusive_prices_are_said() -> None:
    found = recurly.subscription({**sample("api.subscription"), "tax_inclusive": True})
    assert found is not None and any("tax_inclusive" in gap for gap in found.gaps)


def test_invoice_paid_with_its_invoice() -> None:
    enriched = {"invoice": sample("api.invoice"), "subscription": sample("api.subscription"),
                "customer": sample("api.account"), "plan": sample("api.plan")}
    facts = recurly.facts(received(SAMPLES / "charge_invoice.paid.json"), enriched)
    payment = facts.payment
    assert payment is not None
    assert (payment.kind, payment.amount, payment.currency) == ("paid", Decimal("147.0"), "USD")
    assert (payment.subscription_id, payment.invoice_id, payment.reason) == ("sfake0sub001", "ifake0inv001", "purchase")
    assert payment.at == iso_time("2025-02-03T10:15:03Z")
    assert facts.subscription is not None and facts.identity.account_id == "acct-contract"


def test_a_succeeded_transaction_is_not_a_second_payment() -> None:
    enriched = {"transaction": sample("api.transaction"), "subscription": sample("api.subscription")}
    facts = recurly.facts(received(SAMPLES / "payment.succeeded.json"), enriched)
    assert facts.payment is None
    assert facts.subscription is not None


def test_a_refund_transaction() -> None:
    event = received(SAMPLES / "payment.succeeded.json")
    refunded = Event(**{**event.__dict__, "type": "payment.refunded"})
    refund = {**sample("api.transaction"), "type": "refund", "amount": 49.0}
    payment = recurly.facts(refunded, {"transaction": refund}).payment
    assert payment is not None and (payment.kind, payment.amount) == ("refunded", Decimal("49.0"))


def test_payment_failed_with_its_transaction_gives_the_reason() -> None:
    payment = recurly.facts(received(SAMPLES / "payment.failed.json"),
                            {"transaction": sample("api.transaction-failed")}).payment
    assert payment is not None
    assert (payment.kind, payment.reason) == ("failed", "Your card was declined.")


def test_invoice_paid_without_an_api_key_has_no_amount() -> None:
    event = received(SAMPLES / "charge_invoice.paid.json")
    payment = recurly.facts(event, {}).payment
    assert payment is not None
    assert (payment.kind, payment.id, payment.amount, payment.at) == ("paid", "ifake0inv001", None, event.created)


def test_account_event_gives_the_customer_and_identity() -> None:
    facts = recurly.facts(received(SAMPLES / "account.updated.json"), {"customer": sample("api.account")})
    assert facts.subscription is None
    assert facts.identity.account_id == "acct-contract" and facts.identity.customer_id == "afake0acct01"


def test_the_subscriptions_custom_fields_are_read_after_the_accounts() -> None:
    account = {**sample("api.account"), "custom_fields": [{"name": "pendo_account_id", "value": " "}]}
    raw = {**sample("api.subscription"), "custom_fields": [{"name": "pendo_account_id", "value": "acct-from-sub"},
                                                           {"name": "pendo_visitor_id", "value": "v-9"}]}
    identity = recurly.facts(received(SAMPLES / "subscription.created.json"),
                             {"subscription": raw, "customer": account}).identity
    assert (identity.account_id, identity.visitor_id) == ("acct-from-sub", "v-9")


def test_subscription_refuses_what_is_not_a_subscription() -> None:
    assert recurly.subscription({"object": "account", "id": "x"}) is None
    assert recurly.subscription({"state": "active"}) is None


def test_an_active_subscription_has_no_canceled_at_even_if_one_lingers() -> None:
    found = recurly.subscription({**sample("api.subscription"), "canceled_at": "2025-02-20T08:00:00Z"})
    assert found is not None and (found.status, found.canceled_at) == ("active", None)


def test_an_expired_subscription_without_canceled_at_ended_at_expires_at() -> None:
    found = recurly.subscription({**sample("api.subscription"), "state": "expired",
                                  "expires_at": "2025-03-03T10:15:01Z"})
    assert found is not None and found.canceled_at == iso_time("2025-03-03T10:15:01Z")
