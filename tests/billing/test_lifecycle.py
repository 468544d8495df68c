from decimal import Decimal

import pytest

from bridge.billing import lifecycle
from bridge.billing.model import Item, Subscription


def sub(status="active", amount="50.00", quantity=1, interval="month", **fields):
    item = Item(price_id="price_1", plan="Pro", amount=Decimal(amount) * quantity, currency="USD",
                interval=interval, quantity=quantity)
    return Subscription(provider="any", id="sub_1", customer_id="cus_1", status=status, items=(item,),
                        currency="USD", **fields)


UPDATED = "subscription.updated"


@pytest.mark.parametrize(
    ("kind", "before", "after", "expected"),
    [
        ("subscription.created", None, sub(), ["Subscription Created"]),
        ("subscription.created", None, sub("trialing"), ["Subscription Created"]),
        ("subscription.created", None, sub("incomplete"), []),
        ("subscription.canceled", None, sub("canceled"), ["Subscription Canceled"]),
        ("subscription.canceled", sub(), sub("canceled"), ["Subscription Canceled"]),
        (UPDATED, None, sub(), []),  # nothing to compare with
        (UPDATED, sub("incomplete"), sub(), ["Subscription Activated"]),
        (UPDATED, sub("trialing"), sub(), ["Trial Converted"]),
        (UPDATED, sub("past_due"), sub(), ["Payment Recovered"]),
        (UPDATED, sub("unpaid"), sub(), ["Payment Recovered"]),
        (UPDATED, sub(quantity=1), sub(quantity=3), ["Subscription Upgraded"]),
        (UPDATED, sub(amount="50.00"), sub(amount="10.00"), ["Subscription Downgraded"]),
        (UPDATED, sub(), sub(), []),
        (UPDATED, sub(), sub(cancels_at=1_800_000_000.0), ["Subscription Cancellation Scheduled"]),
        (UPDATED, sub(), sub(cancel_at_period_end=True), ["Subscription Cancellation Scheduled"]),
        (UPDATED, sub(cancels_at=1_800_000_000.0), sub(), ["Subscription Cancellation Revoked"]),
        (UPDATED, sub(), sub(paused=True), ["Subscription Paused"]),
        (UPDATED, sub("trialing"), sub("paused", paused=True), ["Subscription Paused"]),
        (UPDATED, sub(paused=True), sub(), ["Subscription Resumed"]),
        (UPDATED, sub(paused=True), sub("canceled"), []),
        (UPDATED, sub("trialing", cancels_at=1_800_000_000.0), sub(),
         ["Trial Converted", "Subscription Cancellation Revoked"]),
        ("subscription.notice", sub(), sub(paused=True), []),
        ("subscription.trial_ending", None, sub("trialing"), []),
    ],
)
def test_changes_follow_the_kind_then_compare_before_and_after(kind, before, after, expected):
    assert lifecycle.changes(kind, before, after) == expected


def test_changes_name_only_known_events():
    assert set(lifecycle.NAMES) >= {"Subscription Created", "Trial Converted", "Subscription Canceled"}


def test_interval_changed_compares_the_main_line():
    assert lifecycle.interval_changed(sub(), sub(amount="600.00", interval="year")) is True
    assert lifecycle.interval_changed(sub("trialing"), sub()) is False
    assert lifecycle.interval_changed(None, sub()) is False


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (sub(quantity=3), sub("canceled"), Decimal("150.00")),
        (sub("trialing"), sub("canceled"), Decimal(0)),
        (None, sub("canceled", trial_end=200.0, canceled_at=100.0), Decimal(0)),
        (None, sub("canceled", trial_end=100.0, canceled_at=200.0), Decimal("50.00")),
    ],
)
def test_mrr_lost_is_what_the_subscription_contributed_just_before(before, after, expected):
    assert lifecycle.mrr_lost(before, after) == expected




def test_a_plan_change_is_not_told_when_plans_are_not_believed():
    before, after = sub(amount="50.00", status="trialing"), sub(amount="90.00")
    assert lifecycle.changes("subscription.updated", before, after) == ["Trial Converted", "Subscription Upgraded"]
    assert lifecycle.changes("subscription.updated", before, after, plans=False) == ["Trial Converted"]
