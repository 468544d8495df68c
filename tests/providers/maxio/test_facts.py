"""Maxio webhooks in the billing model's terms: the contract fixtures (with and without the API), and each sample."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import bridge.providers.maxio as maxio
from bridge.billing.model import Customer
from bridge.providers import Event
from bridge.providers.maxio.catalog import UNKNOWN_COMPONENTS, tier_amount
from bridge.providers.maxio.webhook import MaxioProvider, sign

ROOT = Path(__file__).resolve().parents[3]
CONTRACT = ROOT / "tests" / "fixtures" / "contract" / "maxio"
SAMPLES = Path(maxio.__file__).parent / "samples"
# The contract fixtures are raw bodies as Maxio posts them (Content-Type application/x-www-form-urlencoded), with
# headers X-Chargify-Webhook-Id: <the body's id> and X-Chargify-Webhook-Signature-Hmac-Sha-256: hex HMAC-SHA256
# of the body keyed with the site's Shared Key, here "contract_shared_key".
KEY = "contract_shared_key"


def received(path: Path) -> Event:
    body = path.read_bytes()
    webhook_id = body.split(b"&", 1)[0].removeprefix(b"id=").decode()
    sent = {"x-chargify-webhook-id": webhook_id, "x-chargify-webhook-signature-hmac-sha-256": sign(body, KEY)}
    return MaxioProvider((KEY,)).receive(body, sent, now=1_900_000_000.0)


def answer(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def enrichment(name: str) -> dict[str, Any]:
    """What `enrichment` returns for a contract fixture: `contract/maxio/enrichment/<name>.json`, built from the API
    answers in samples/api_*.json (`test_api.py` checks `enrichment` assembles exactly that)."""
    loaded: dict[str, Any] = json.loads((CONTRACT / "enrichment" / f"{name}.json").read_text())
    return loaded


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_contract_created_with_the_api() -> None:
    facts = maxio.facts(received(CONTRACT / "created.form"), enrichment("created"))
    sub = facts.subscription
    assert sub is not None
    assert (facts.identity.account_id, facts.identity.visitor_id) == ("acct-contract", "user-contract")
    assert (facts.identity.customer_id, facts.identity.email) == ("48213377", "dana@contract.example")
    assert (sub.id, sub.status, sub.currency, sub.gaps) == ("71834529", "active", "USD", ())
    priced = [item for item in sub.items if not item.metered]
    assert len(priced) == 1
    item = priced[0]
    assert (item.plan, item.amount, item.currency, item.interval, item.interval_count, item.quantity) == (
        "Pro", Decimal("147.0"), "USD", "month", 1, 3)
    assert item.price_id == "2300045" and item.lookup_key == "pro-seat"
    assert [item.metered for item in sub.items] == [False, True]  # the metered component is left out of MRR
    assert (sub.canceled_at, sub.cancel_at_period_end, sub.cancels_at, sub.paused) == (None, False, None, False)
    assert sub.period_end == at("2026-12-02T04:20:11-05:00")
    assert facts.customer == Customer(id="48213377", email="dana@contract.example", name="Dana Reyes")


def test_contract_created_without_the_api_withholds_the_components() -> None:
    facts = maxio.facts(received(CONTRACT / "created.form"), {})
    sub = facts.subscription
    assert sub is not None and sub.status == "active" and sub.currency == "USD"
    assert facts.identity.account_id == "acct-contract"  # the customer's reference
    assert facts.identity.visitor_id is None  # metafields come from the API
    assert [(item.amount, item.gap) for item in sub.items] == [(Decimal("0.00"), None), (None, UNKNOWN_COMPONENTS)]
    assert UNKNOWN_COMPONENTS in sub.gaps


def test_contract_created_one_seat() -> None:
    sub = maxio.facts(received(CONTRACT / "created-1-seat.form"), enrichment("created-1-seat")).subscription
    assert sub is not None and sub.status == "active"
    assert (sub.items[0].amount, sub.items[0].quantity, sub.items[0].interval) == (Decimal("49.0"), 1, "month")


@pytest.mark.parametrize("fetched", [{}, enrichment("canceled")])
def test_contract_canceled(fetched: dict[str, Any]) -> None:
    facts = maxio.facts(received(CONTRACT / "canceled.form"), fetched)
    sub = facts.subscription
    assert sub is not None
    assert sub.status == "canceled" and sub.canceled_at == at("2026-11-20T11:45:02-05:00")
    assert (sub.period_end, sub.cancels_at, sub.cancel_at_period_end) == (None, None, False)


def test_a_fetched_subscription_of_another_id_is_not_used() -> None:
    other = enrichment("created")
    other["subscription"] = {**other["subscription"], "id": 1, "state": "canceled"}
    sub = maxio.facts(received(CONTRACT / "created.form"), other).subscription
    assert sub is not None and sub.status == "active"


def sample(name: str) -> Event:
    body = (SAMPLES / name).read_bytes()
    return MaxioProvider((KEY,)).parse(body, {}, received=1_900_000_000.0)


def test_payment_success_is_a_paid_payment() -> None:
    facts = maxio.facts(sample("payment_success.form"), {})
    assert facts.payment is not None
    assert (facts.payment.kind, facts.payment.id, facts.payment.amount, facts.payment.currency,
            facts.payment.subscription_id, facts.payment.reason) == (
        "paid", "912003458", Decimal("147.00"), "USD", "71834529", None)
    assert facts.payment.at == at("2026-12-02T04:21:03-05:00")


def test_payment_failure_is_a_failed_payment_and_past_due() -> None:
    facts = maxio.facts(sample("payment_failure.form"), {})
    assert facts.payment is not None and facts.payment.kind == "failed"
    assert facts.payment.reason == "Insufficient funds"
    assert facts.subscription is not None and facts.subscription.status == "past_due"


def test_cancel_at_end_of_period_and_a_coupon_gap() -> None:
    sub = maxio.facts(sample("subscription_state_change_canceling.form"), {}).subscription
    assert sub is not None
    assert sub.cancel_at_period_end is True and sub.cancels_at == sub.period_end == at("2026-12-02T04:20:11-05:00")
    assert any("coupon" in gap for gap in sub.gaps)


def test_refund_success_is_a_refunded_payment() -> None:
    event = MaxioProvider((KEY,)).parse(
        b"id=5&event=refund_success&payload[subscription_id]=71834529&payload[payment_id]=912003458"
        b"&payload[refund_id]=44120&payload[refund_amount_in_cents]=4900&payload[memo]=Seat+removed", {}, received=1.0)
    facts = maxio.facts(event, {})
    assert facts.payment is not None
    assert (facts.payment.kind, facts.payment.id, facts.payment.amount, facts.payment.currency,
            facts.payment.subscription_id) == ("refunded", "44120", Decimal("49.00"), None, "71834529")


def test_end_of_trial_notice_is_the_trial_ending_notice() -> None:
    event = MaxioProvider((KEY,)).parse(b"id=6&event=end_of_trial_notice&payload[subscription][id]=1"
                                        b"&payload[subscription][state]=trialing", {}, received=1.0)
    facts = maxio.facts(event, {})
    assert facts.trial_ending and facts.subscription is not None and facts.subscription.status == "trialing"


@pytest.mark.parametrize(("state", "expected"), [
    ("trialing", "trialing"), ("active", "active"), ("past_due", "past_due"), ("soft_failure", "past_due"),
    ("unpaid", "unpaid"), ("canceled", "canceled"), ("expired", "canceled"), ("trial_ended", "canceled"),
    ("on_hold", "paused"), ("paused", "paused"), ("suspended", None), ("assessing", None)])
def test_state_mapping(state: str, expected: str | None) -> None:
    raw = {**answer("api_subscription.json")["subscription"], "state": state}
    sub = maxio.subscription(raw)
    assert sub is not None and sub.status == expected
    assert (expected is None) == any("state" in gap for gap in sub.gaps)
    assert sub.paused == (expected == "paused" if expected else None)


def test_subscription_reads_components_attached_by_sync() -> None:
    extra = enrichment("created")
    raw = {**extra["subscription"], "components": extra["components"], "component_price_points": extra["price_points"]}
    sub = maxio.subscription(raw)
    assert sub is not None and sub.items[0].amount == Decimal("147.0") and sub.gaps == ()
    assert maxio.subscription({"id": 1}) is None


def _point(scheme: str, *tiers: tuple[int, int | None, str]) -> dict[str, Any]:
    return {"pricing_scheme": scheme, "prices": [
        {"starting_quantity": s, "ending_quantity": e, "unit_price": u} for s, e, u in tiers]}


@pytest.mark.parametrize(("point", "quantity", "expected"), [
    (_point("per_unit", (1, None, "49.0")), 3, Decimal("147.0")),
    (_point("volume", (1, 10, "10"), (11, None, "8")), 12, Decimal("96")),
    (_point("tiered", (1, 10, "10"), (11, None, "8")), 12, Decimal("116")),
    (_point("stairstep", (1, 10, "100"), (11, 50, "300")), 12, Decimal("300")),
    (_point("stairstep", (1, 10, "100")), 12, None),
    (_point("per_unit", (1, None, "free")), 2, None),
    (_point("custom", (1, None, "1")), 2, None),
    ({"pricing_scheme": "per_unit", "prices": []}, 2, None),
])
def test_tier_amount(point: dict[str, Any], quantity: int, expected: Decimal | None) -> None:
    assert tier_amount(point, quantity) == expected
