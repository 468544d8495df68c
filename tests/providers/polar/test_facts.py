"""Polar's events in the billing model's terms: the contract fixtures, each sample, and the amount before a discount."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import bridge.providers.polar as polar
from bridge.billing.model import Customer, Discount, Identity, Payment
from bridge.providers import Event
from bridge.providers.polar.amounts import gross_amount, listed_amount

ROOT = Path(__file__).resolve().parents[3]
CONTRACT = ROOT / "tests" / "fixtures" / "contract" / "polar"
SAMPLES = Path(polar.__file__).parent / "samples"
SECRET = "whsec_contractFixtureSecret1"


def signed(body: bytes, msg_id: str, timestamp: int) -> dict[str, str]:
    """How Polar signs the contract fixtures' deliveries: `webhook-id` (the event's UUID), `webhook-timestamp` (the
    attempt's unix seconds), `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with
    the endpoint secret's UTF-8 bytes."""
    digest = hmac.new(SECRET.encode(), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": "v1," + base64.b64encode(digest).decode()}


def received(path: Path) -> Event:
    """The fixture as the endpoint receives it: signed, verified and parsed."""
    body = path.read_bytes()
    timestamp = int(_time(json.loads(body)["timestamp"]))
    provider = polar.webhook(polar.configure({"POLAR_WEBHOOK_SECRET": SECRET}))  # type: ignore[arg-type]
    return provider.receive(body, signed(body, "evt-" + path.stem, timestamp), now=timestamp + 5)


def event_of(payload: dict[str, Any], event_type: str | None = None) -> Event:
    return Event(provider="polar", id="m", type=event_type or payload["type"], created=1_793_700_000.0,
                 livemode=None, api_version=None, connect_account=None, customer_id=None, payload=payload)


def _time(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_contract_created() -> None:
    facts = polar.facts(received(CONTRACT / "created.json"), {})
    sub = facts.subscription
    assert sub is not None
    assert facts.identity.account_id == "acct-contract" and facts.identity.visitor_id == "user-contract"
    assert (sub.status, sub.currency, sub.discounts, sub.gaps) == ("active", "USD", (), ())
    assert len(sub.items) == 1
    item = sub.items[0]
    assert (item.plan, item.amount, item.currency, item.interval, item.interval_count, item.quantity) == (
        "Pro", Decimal("147.00"), "USD", "month", 1, 3)
    assert not item.metered and item.gap is None
    assert sub.canceled_at is None and sub.cancel_at_period_end is False
    assert sub.period_end == _time("2026-12-02T09:20:11.104512Z")


def test_contract_created_one_seat() -> None:
    sub = polar.facts(received(CONTRACT / "created-1-seat.json"), {}).subscription
    assert sub is not None and sub.status == "active"
    assert (sub.items[0].amount, sub.items[0].quantity, sub.items[0].interval) == (Decimal("49.00"), 1, "month")


def test_contract_canceled() -> None:
    facts = polar.facts(received(CONTRACT / "canceled.json"), {})
    sub = facts.subscription
    assert sub is not None
    assert sub.status == "canceled"
    assert sub.canceled_at == _time("2026-11-20T16:45:02.118231Z")
    assert sub.cancels_at is None  # it has ended, nothing is scheduled
    assert (sub.items[0].amount, sub.items[0].quantity) == (Decimal("147.00"), 3)
    assert facts.identity.account_id == "acct-contract"


def test_sample_subscription_created_metered_line_and_identity_order() -> None:
    facts = polar.facts(received(SAMPLES / "subscription.created.json"), {})
    sub = facts.subscription
    assert sub is not None
    # the subscription's own slot wins over the customer's; the visitor comes from the customer
    assert facts.identity == Identity(customer_id="992fae2a-2a17-4b7a-8d9e-e287cf90131b", account_id="acme-corp-eu",
                                      visitor_id="user-42", email="ada@example.com")
    main, metered = sub.items
    assert (main.plan, main.amount, main.price_id, main.quantity) == (
        "Team", Decimal("29.00"), "a3e5c7b9-2d4f-4e6a-8c0b-1d3f5a7c9e21", 1)
    assert metered.metered and metered.amount is None and metered.price_id == "b4f6d8a0-3e5a-4f7b-9d1c-2e4a6b8d0f32"


def test_sample_subscription_updated_forever_discount_is_taken_out_of_the_amount() -> None:
    sub = polar.facts(received(SAMPLES / "subscription.updated.json"), {}).subscription
    assert sub is not None
    assert (sub.items[0].amount, sub.items[0].interval) == (Decimal("240.00"), "year")  # Polar says 192.00 after
    assert sub.discounts == (Discount(percent_off=Decimal(20)),)


def test_sample_subscription_canceled_at_period_end() -> None:
    sub = polar.facts(received(SAMPLES / "subscription.canceled.json"), {}).subscription
    assert sub is not None
    assert (sub.status, sub.cancel_at_period_end) == ("active", True)
    assert sub.cancels_at == _time("2026-12-02T09:20:11.104512Z")
    assert sub.canceled_at == _time("2026-11-15T13:31:09.402118Z")


def test_sample_order_paid() -> None:
    facts = polar.facts(received(SAMPLES / "order.paid.json"), {})
    assert facts.payment == Payment(kind="paid", id="2c4e6a8b-0d2f-4a6c-8e0a-b2d4f6a8c0e1", amount=Decimal("31.32"),
                                    currency="USD", at=pytest.approx(_time("2026-12-02T09:20:19.088414Z")),
                                    subscription_id="5f2d8c1a-9b3e-4d7f-a6c2-8e1b4f9d2a57",
                                    invoice_id="2c4e6a8b-0d2f-4a6c-8e0a-b2d4f6a8c0e1", reason="subscription_cycle")
    assert facts.identity.account_id == "acme-corp-eu" and facts.subscription is None  # the subscription's slot


def test_order_created_is_not_a_payment() -> None:
    payload = json.loads((SAMPLES / "order.paid.json").read_text())
    assert polar.facts(event_of(payload, "order.created"), {}).payment is None


def test_sample_refund_created_with_its_tax_and_the_enriched_customer() -> None:
    payload = json.loads((SAMPLES / "refund.created.json").read_text())
    customer = json.loads((SAMPLES / "customer.updated.json").read_text())["data"]
    facts = polar.facts(event_of(payload), {"customer": customer})
    assert facts.payment is not None
    assert (facts.payment.kind, facts.payment.amount, facts.payment.currency) == ("refunded", Decimal("31.32"), "USD")
    assert facts.payment.at == _time("2026-12-03T11:05:27.640155Z")
    assert facts.payment.invoice_id == "2c4e6a8b-0d2f-4a6c-8e0a-b2d4f6a8c0e1"
    assert facts.identity.account_id == "acme-corp"
    assert polar.facts(event_of(payload), {}).identity.account_id is None  # no customer object, no slot


@pytest.mark.parametrize("status", ["failed", "canceled"])
def test_a_refund_that_returned_nothing_is_no_payment(status: str) -> None:
    payload = json.loads((SAMPLES / "refund.created.json").read_text())
    payload["data"]["status"] = status
    assert polar.facts(event_of(payload), {}).payment is None


def test_sample_customer_updated() -> None:
    facts = polar.facts(received(SAMPLES / "customer.updated.json"), {})
    assert facts.customer == Customer(id="992fae2a-2a17-4b7a-8d9e-e287cf90131b", email="ada@example.com",
                                      name="Ada Lovelace")
    assert (facts.identity.account_id, facts.identity.visitor_id) == ("acme-corp", "user-42")


def _subscription(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((CONTRACT / "created.json").read_text())["data"]
    raw.update(changes)
    return raw


PERCENT = {"type": "percentage", "duration": "forever"}
FIXED = {"type": "fixed", "duration": "forever", "amounts": {"usd": 900}, "amount": 900, "currency": "usd"}


@pytest.mark.parametrize(
    ("amount", "discount", "expected"),
    [
        (14700, None, 14700),
        (2000, FIXED, 2900),
        (2000, {**FIXED, "amounts": {"eur": 900}, "currency": "eur"}, None),  # no amount in USD
        (0, FIXED, None),  # the discount may be larger than the price
        (11760, {**PERCENT, "basis_points": 2000}, 14700),
        (9800, {**PERCENT, "basis_points": 3333}, 14700),  # 14700 x 0.3333 = 4899.51, 4900 off
        (0, {**PERCENT, "basis_points": 10_000}, 14700),  # 100 % off: the listed prices tell
        (13230, {**PERCENT, "basis_points": 1000}, 14700),
        (100, {"type": "mystery"}, None),
    ],
)
def test_gross_amount(amount: int, discount: dict[str, Any] | None, expected: int | None) -> None:
    gross, gap = gross_amount(_subscription(amount=amount, discount=discount))
    assert gross == expected
    assert (gap is None) == (expected is not None)


def _unlisted(**changes: Any) -> dict[str, Any]:
    """A pay-what-you-want subscription: its prices do not say the amount."""
    return _subscription(prices=[{"id": "p", "amount_type": "custom", "minimum_amount": 0}], **changes)


@pytest.mark.parametrize(
    ("amount", "points", "expected"),
    [
        (11760, 2000, 14700),  # the only amount 20 % off gives 117.60
        (2, 2000, None),  # 2 and 3 both become 2 at 20 % off (3 x 0.2 = 0.6 rounds to 1)
        (3333, 3333, None),  # 4999 and 5000 both become 3333
        (0, 10_000, None),  # 100 % off hides everything
        (0, 7500, None),  # 1 and 2 both become 0
    ],
)
def test_gross_amount_without_listed_prices(amount: int, points: int, expected: int | None) -> None:
    gross, gap = gross_amount(_unlisted(amount=amount, discount={**PERCENT, "basis_points": points}))
    assert gross == expected
    assert (gap is None) == (expected is not None)


def test_ambiguity_is_settled_by_the_listed_prices() -> None:
    raw = _subscription(amount=3333, discount={**PERCENT, "basis_points": 3333}, seats=1,
                        prices=[{"id": "p", "amount_type": "fixed", "price_amount": 5000}])
    assert gross_amount(raw) == (5000, None)


@pytest.mark.parametrize(
    ("tier_type", "seats", "expected"),
    [("volume", 3, 3 * 4000), ("volume", 1, 4900), ("graduated", 3, 4900 + 2 * 4000), ("graduated", 1, 4900)],
)
def test_listed_amount_of_seat_tiers(tier_type: str, seats: int, expected: int) -> None:
    tiers = {"seat_tier_type": tier_type, "tiers": [{"min_seats": 2, "max_seats": None, "price_per_seat": 4000},
                                                    {"min_seats": 1, "max_seats": 1, "price_per_seat": 4900}]}
    raw = _subscription(seats=seats, prices=[{"id": "p", "amount_type": "seat_based", "seat_tiers": tiers}])
    assert listed_amount(raw) == expected


def test_once_and_repeating_discounts_do_not_count_toward_mrr() -> None:
    for duration in ("once", "repeating"):
        discount = {**PERCENT, "basis_points": 2000, "duration": duration, "duration_in_months": 3}
        sub = polar.subscription(_subscription(amount=11760, discount=discount))
        assert sub is not None and sub.discounts == () and sub.items[0].amount == Decimal("147.00")


def test_forever_fixed_discount_counts_per_period() -> None:
    sub = polar.subscription(_subscription(amount=13800, discount=FIXED))
    assert sub is not None
    assert sub.discounts == (Discount(amount_off=Decimal("9.00"), currency="USD"),)
    assert sub.items[0].amount == Decimal("147.00")


def test_an_amount_that_cannot_be_known_is_withheld_with_a_gap() -> None:
    sub = polar.subscription(_unlisted(amount=0, discount={**PERCENT, "basis_points": 10_000}))
    assert sub is not None and sub.items[0].amount is None
    assert sub.items[0].gap and sub.items[0].gap in sub.gaps


def test_a_tax_inclusive_price_withholds_the_amount() -> None:
    raw = _subscription()
    raw["prices"] = [{**raw["prices"][0], "tax_behavior": "inclusive"}]
    sub = polar.subscription(raw)
    assert sub is not None and sub.items[0].amount is None and "tax" in (sub.items[0].gap or "")


def test_zero_decimal_currency() -> None:
    sub = polar.subscription(_subscription(amount=4900, currency="jpy"))
    assert sub is not None and (sub.items[0].amount, sub.currency) == (Decimal(4900), "JPY")


@pytest.mark.parametrize(("status", "expected"), [("incomplete_expired", "canceled"), ("paused", "paused"),
                                                   ("past_due", "past_due"), ("trialing", "trialing")])
def test_statuses(status: str, expected: str) -> None:
    sub = polar.subscription(_subscription(status=status))
    assert sub is not None and sub.status == expected and sub.paused == (status == "paused")


def test_an_unknown_status_is_a_gap() -> None:
    sub = polar.subscription(_subscription(status="hibernating"))
    assert sub is not None and sub.status is None and any("hibernating" in gap for gap in sub.gaps)


def test_subscription_of_something_else_is_none() -> None:
    order = json.loads((SAMPLES / "order.paid.json").read_text())["data"]
    assert polar.subscription(order) is None
    assert polar.subscription({}) is None
