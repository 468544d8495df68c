from decimal import Decimal

import pytest

from bridge.billing.kinds import kind
from bridge.billing.model import Customer, Facts, Identity, Payment, Subscription


def sub(status="active"):
    return Subscription(provider="any", id="s", customer_id=None, status=status)


@pytest.mark.parametrize(
    ("facts", "before", "expected"),
    [
        (Facts(Identity(), subscription=sub(), kind="subscription.notice"), None, "subscription.notice"),
        (Facts(Identity(), subscription=sub()), None, "subscription.created"),
        (Facts(Identity(), subscription=sub()), sub("trialing"), "subscription.updated"),
        (Facts(Identity(), subscription=sub("canceled")), sub(), "subscription.canceled"),
        (Facts(Identity(), subscription=sub("canceled")), None, "subscription.canceled"),
        (Facts(Identity(), subscription=sub("canceled")), sub("canceled"), "subscription.updated"),
        (Facts(Identity(), subscription=sub(), trial_ending=True), sub(), "subscription.trial_ending"),
        (Facts(Identity(), payment=Payment("failed", "in_1", Decimal(1), "USD", 1.0)), None, "payment.failed"),
        (Facts(Identity(), customer=Customer("cus_1")), None, "customer.updated"),
        (Facts(Identity()), None, "other"),
    ],
)
def test_kind_is_the_packages_else_told_from_the_facts(facts, before, expected):
    assert kind(facts, before) == expected
