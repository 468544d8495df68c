from dataclasses import replace
from decimal import Decimal

import pytest

from bridge.billing import lifecycle
from bridge.billing.model import Item, Subscription


def sub(status="active", amount="50.00", quantity=1, interval="month", **fields):
    item = Item(price_id="price_1", plan="Pro", amount=Decimal(amount) * quantity, currency="USD",
                interval=interval, quantity=quantity)
    return Subscription(provider="any", id="sub_1", customer_id="cus_1", status=status, items=(item,),
                        currency="USD", **fields)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (None, sub(), ["Subscription Created"]),
        (None, sub("trialing"), ["Subscription Created"]),
        (None, sub("incomplete"), []),
        (None, sub("canceled"), ["Subscription Canceled"]),
        (sub("incomplete"), sub(), ["Subscription Activated"]),
        (sub("trialing"), sub(), ["Trial Converted"]),
        (sub("past_due"), sub(), ["Payment Recovered"]),
        (sub("unpaid"), sub(), ["Payment Recovered"]),
        (sub(quantity=1), sub(quantity=3), ["Subscription Upgraded"]),
        (sub(amount="50.00"), sub(amount="10.00"), ["Subscription Downgraded"]),
        (sub(), sub(), []),
        (sub(), sub(cancels_at=1_800_000_000.0), ["Subscription Cancellation Scheduled"]),
        (sub(), sub(cancel_at_period_end=True), ["Subscription Cancellation Scheduled"]),
        (sub(cancels_at=1_800_000_000.0), sub(), ["Subscription Cancellation Revoked"]),
        (sub(), sub(paused=True), ["Subscription Paused"]),
        (sub("trialing"), sub("paused", paused=True), ["Subscription Paused"]),
        (sub(paused=True), sub(), ["Subscription Resumed"]),
        (sub("trialing", cancels_at=1_800_000_000.0), sub(), ["Trial Converted", "Subscription Cancellation Revoked"]),
        (sub(), sub("canceled"), ["Subscription Canceled"]),
        (sub("canceled"), sub("canceled"), []),
    ],
)
def test_changes_compare_before_and_after(before, after, expected):
    assert lifecycle.changes(before, after) == expected


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


def test_a_notice_that_repeats_a_change_gives_nothing():
    after = sub(paused=True)
    assert lifecycle.changes(replace(after), after) == []
