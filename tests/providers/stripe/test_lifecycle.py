import pytest

from bridge.providers.stripe import billing as sb
from bridge.providers.stripe import lifecycle


def sub(status="active", amount=5000, quantity=1, interval="month", **fields):
    price = {"id": "price_1", "billing_scheme": "per_unit", "unit_amount": amount,
             "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed"}}
    return {"object": "subscription", "status": status, "currency": "usd", "cancel_at": None,
            "cancel_at_period_end": False, "pause_collection": None,
            "items": {"data": [{"quantity": quantity, "price": price}]}, **fields}


UPDATED = "customer.subscription.updated"


@pytest.mark.parametrize(
    ("event_type", "now", "previous", "expected"),
    [
        ("customer.subscription.created", sub(), {}, ["Subscription Created"]),
        ("customer.subscription.created", sub("incomplete"), {}, []),
        (UPDATED, sub(), {"status": "incomplete"}, ["Subscription Activated"]),
        (UPDATED, sub(), {"status": "trialing"}, ["Trial Converted"]),
        (UPDATED, sub(), {"status": "past_due"}, ["Payment Recovered"]),
        (UPDATED, sub(quantity=3), {"items": sub(quantity=1)["items"]}, ["Subscription Upgraded"]),
        (UPDATED, sub(amount=1000), {"items": sub(amount=5000)["items"]}, ["Subscription Downgraded"]),
        (UPDATED, sub(), {"items": sub()["items"]}, []),  # same price again: no change of MRR
        (UPDATED, sub(cancel_at=1_800_000_000), {"cancel_at": None}, ["Subscription Cancellation Scheduled"]),
        (UPDATED, sub(cancel_at_period_end=True), {"cancel_at_period_end": False},
         ["Subscription Cancellation Scheduled"]),
        (UPDATED, sub(), {"cancel_at": 1_800_000_000}, ["Subscription Cancellation Revoked"]),
        (UPDATED, sub(pause_collection={"behavior": "void", "resumes_at": None}), {"pause_collection": None},
         ["Subscription Paused"]),
        (UPDATED, sub("paused"), {"status": "trialing"}, ["Subscription Paused"]),
        (UPDATED, sub(), {"pause_collection": {"behavior": "void"}}, ["Subscription Resumed"]),
        (UPDATED, sub(), {"status": "trialing", "cancel_at": 1_800_000_000},
         ["Trial Converted", "Subscription Cancellation Revoked"]),
        ("customer.subscription.deleted", sub("canceled"), {}, ["Subscription Canceled"]),
    ],
)
def test_transitions_follow_previous_attributes(event_type, now, previous, expected):
    assert lifecycle.transitions(event_type, now, previous) == expected


def test_trial_conversion_is_not_an_upgrade():
    assert lifecycle.transitions(UPDATED, sub(), {"status": "trialing"}) == ["Trial Converted"]


def test_transitions_fall_back_to_the_prior_snapshot():
    assert lifecycle.transitions(UPDATED, sub(), {}, prior=sub("past_due")) == ["Payment Recovered"]


def test_interval_changed_compares_the_main_item():
    assert lifecycle.interval_changed(sub(amount=60000, interval="year"), {"items": sub()["items"]}) is True
    assert lifecycle.interval_changed(sub(), {"status": "trialing"}) is False


def test_refund_amount_is_this_refund_not_the_running_total():
    refunds = [{"amount": 1000, "created": 1}, {"amount": 2000, "created": 2}]
    charge = {"amount_refunded": 3000, "refunds": {"data": refunds}}
    assert sb.refund_amount(charge, {"amount_refunded": 1000}) == 2000
    assert sb.refund_amount(charge, {}) == 2000
    assert sb.refund_amount({"amount_refunded": 500}, {}) == 500


@pytest.mark.parametrize(
    ("tiers_mode", "quantity", "expected"),
    [("graduated", 15, 10 * 1000 + 5 * 800 + 500), ("volume", 15, 15 * 800 + 500), ("volume", 5, 5 * 1000)],
)
def test_tiered_prices_resolve_with_their_tiers(tiers_mode, quantity, expected):
    price = {"id": "price_t", "billing_scheme": "tiered", "tiers_mode": tiers_mode,
             "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
             "tiers": [{"up_to": 10, "unit_amount": 1000, "flat_amount": None},
                       {"up_to": None, "unit_amount": 800, "flat_amount": 500}]}
    assert sb.monthly_amount({"quantity": quantity, "price": price}) == expected
    assert sb.tiered_price_ids({"items": {"data": [{"price": {**price, "tiers": None}}]}}) == ["price_t"]


def test_inclusive_tax_is_removed_and_stripe_tax_inclusive_is_a_gap():
    item = {"quantity": 1, "tax_rates": [{"percentage": 25.0, "inclusive": True}],
            "price": {"id": "p", "unit_amount": 12500, "tax_behavior": "inclusive",
                      "recurring": {"interval": "month", "usage_type": "licensed"}}}
    assert sb.list_mrr({"currency": "eur", "items": {"data": [item]}}) == 100.0
    automatic = {"currency": "eur", "automatic_tax": {"enabled": True}, "items": {"data": [{**item, "tax_rates": []}]}}
    assert sb.list_mrr(automatic) is None and "Stripe Tax" in sb.mrr_gaps(automatic)[0]
