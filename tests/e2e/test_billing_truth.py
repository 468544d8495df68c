"""Stripe sequences whose truth a single event cannot give, through the real processes into a fake Pendo.

Each expectation is Stripe's own definition (docs/billing.md cites the pages).
"""

from __future__ import annotations

import time

from tests.e2e.harness import Service, stripe_event, wait_until
from tests.e2e.payloads import customer, subscription
from tests.fakes.pendo import FakePendo

PERIOD_END = 1_769_904_000


def test_a_revoked_cancellation_leaves_no_cancellation_date(service: Service, pendo: FakePendo) -> None:
    """docs.stripe.com/billing/subscriptions/cancel: revoking a scheduled cancellation sets
    `cancel_at_period_end` back to false and empties `cancel_at` and `canceled_at`."""
    now = int(time.time())
    scheduled = subscription(cancel_at_period_end=True, cancel_at=PERIOD_END, canceled_at=now - 120)
    first = stripe_event("customer.subscription.updated", scheduled, created=now - 100,
                         previous_attributes={"cancel_at_period_end": False, "cancel_at": None, "canceled_at": None})
    assert service.post(first).status_code == 200
    values = wait_until(lambda: "cancels_at" in pendo.account_values("acme") and pendo.account_values("acme"))
    assert values["cancels_at"].startswith("2026-02-01T00:00:00") and "canceled_at" in values
    revoked = stripe_event("customer.subscription.updated", subscription(), created=now - 50,
                           previous_attributes={"cancel_at_period_end": True, "cancel_at": PERIOD_END,
                                                "canceled_at": now - 120})
    assert service.post(revoked).status_code == 200
    values = wait_until(lambda: pendo.account_values("acme").get("cancel_at_period_end") is False
                        and pendo.account_values("acme"))
    assert "cancels_at" not in values and "canceled_at" not in values
    wait_until(lambda: len(pendo.track_events()) == 2)
    assert [t["event"] for t in pendo.track_events()] == [
        "Subscription Cancellation Scheduled", "Subscription Cancellation Revoked"]


def test_two_currencies_never_show_an_mrr_beside_a_currency_it_is_not_in(service: Service, pendo: FakePendo) -> None:
    """docs.stripe.com/billing/subscriptions/analytics/glossary: MRR is one figure in one currency; USD 50 and
    EUR 60 have none, so Pendo holds no `mrr` once the EUR subscription shows `billing_currency=EUR`."""
    now = int(time.time())
    usd = subscription(sub_id="sub_usd", quantity=1)
    usd["items"]["data"][0]["price"].update(unit_amount=5000, unit_amount_decimal="5000")
    eur = subscription(sub_id="sub_eur", quantity=1, currency="eur")
    eur["items"]["data"][0]["price"].update(id="price_eur", unit_amount=6000, unit_amount_decimal="6000",
                                            currency="eur")
    assert service.post(stripe_event("customer.created", customer(), created=now - 150)).status_code == 200
    assert service.post(stripe_event("customer.subscription.created", usd, created=now - 100)).status_code == 200
    wait_until(lambda: pendo.account_values("acme").get("mrr") == 50.0)
    assert service.post(stripe_event("customer.subscription.created", eur, created=now - 50)).status_code == 200
    values = wait_until(lambda: pendo.account_values("acme").get("billing_currency") == "EUR"
                        and "mrr" not in pendo.account_values("acme") and pendo.account_values("acme"))
    assert values["billing_status"] == "active"


def test_a_customer_wide_forever_coupon_counts_toward_mrr(service: Service, pendo: FakePendo) -> None:
    """docs.stripe.com/api/customers/object#customer_object-discount: the customer's discount applies to its
    subscriptions without one of their own; $100 with a forever 20 % customer coupon is 80 a month."""
    now = int(time.time())
    coupon = {"id": "co_20", "object": "coupon", "percent_off": 20.0, "amount_off": None, "currency": None,
              "duration": "forever", "valid": True}
    known = {**customer(), "discount": {"id": "di_20", "object": "discount", "customer": "cus_1", "coupon": coupon}}
    sub = subscription(quantity=1)
    sub["items"]["data"][0]["price"].update(unit_amount=10000, unit_amount_decimal="10000")
    assert service.post(stripe_event("customer.created", known, created=now - 100)).status_code == 200
    assert service.post(stripe_event("customer.subscription.created", sub, created=now - 50)).status_code == 200
    wait_until(lambda: pendo.account_values("acme").get("mrr") == 80.0)
