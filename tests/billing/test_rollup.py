from decimal import Decimal

import pytest

from bridge.billing import rollup
from bridge.billing.model import Item, Subscription


def sub(provider="stripe", id_="sub_1", status="active", amount="49.00", quantity=3, plan="Pro", currency="USD",
        **fields):
    item = Item(price_id=f"{provider}-price", plan=plan, amount=Decimal(amount) * quantity, currency=currency,
                interval="month", quantity=quantity)
    return Subscription(provider=provider, id=id_, customer_id="cus_1", status=status, items=(item,),
                        currency=currency, **fields)


def snap(subscription, at=1_000):
    return rollup.Snapshot(subscription, at, {"id": subscription.id})


def test_account_sums_mrr_and_takes_the_best_status():
    found = rollup.account([snap(sub()), snap(sub(id_="sub_2", status="canceled", amount="99.00"))], "acct-1")
    assert (found["id"], found["mrr"], found["status"], found["live_subscriptions"]) == ("acct-1", 147.0, "active", 1)
    assert found["subscription"]["plan"] == "Pro" and found["primary"] == {"id": "sub_1"}
    assert found["subscription_ids"] == ["sub_1", "sub_2"] and found["mrr_gaps"] == []


def test_account_of_nothing_is_empty():
    assert rollup.account([]) == {}


def test_old_providers_cancellation_does_not_blank_the_new_ones_plan():
    """Moving from one provider to another: the old one's cancellation arrives last and must not win."""
    new = snap(sub("paddle", "sub_new", plan="Pro (Paddle)"), at=2_000)
    old = snap(sub("stripe", "sub_old", status="canceled", plan="Legacy"), at=3_000)
    found = rollup.account([new, old], "acct-1")
    assert (found["status"], found["subscription"]["plan"], found["subscription"]["provider"]) == (
        "active", "Pro (Paddle)", "paddle")
    assert found["mrr"] == 147.0 and found["providers"] == ["paddle", "stripe"]


def test_two_live_subscriptions_of_two_providers_rank_by_mrr_then_newest():
    cheap, dear = snap(sub("paddle", "a", amount="10.00"), 5_000), snap(sub("stripe", "b", amount="20.00"), 1_000)
    assert rollup.account([cheap, dear])["subscription"]["id"] == "b"
    same_old, same_new = snap(sub("stripe", "a"), 1_000), snap(sub("paddle", "b"), 2_000)
    assert rollup.account([same_old, same_new])["subscription"]["id"] == "b"


@pytest.mark.parametrize(("statuses", "expected"), [
    (("trialing", "past_due"), "past_due"), (("canceled", "incomplete"), "incomplete"),
    (("paused", "unpaid"), "paused"), (("canceled", "canceled"), "canceled")])
def test_account_status_follows_the_precedence(statuses, expected):
    found = rollup.account([snap(sub(id_=str(n), status=s)) for n, s in enumerate(statuses)])
    assert found["status"] == expected


def test_account_mrr_is_withheld_across_currencies_and_for_a_gap():
    mixed = rollup.account([snap(sub()), snap(sub(id_="b", currency="EUR"))])
    assert mixed["mrr"] is None and "several currencies" in mixed["mrr_gaps"][0]
    gap = Subscription(provider="paddle", id="g", customer_id=None, status="active",
                       items=(Item(price_id="p", plan=None, amount=None, currency="USD", interval="month",
                                   gap="price p: amount unknown"),), currency="USD")
    assert rollup.account([snap(sub()), snap(gap)])["mrr_gaps"] == ["price p: amount unknown"]
    assert rollup.account([snap(sub(status="trialing")), snap(gap)])["mrr"] is None


def test_snapshot_reads_a_stored_object_through_its_providers_package():
    raw = {"object": "subscription", "id": "sub_1", "status": "active", "currency": "usd", "items": {"data": []}}
    found = rollup.snapshot("stripe", raw, 7)
    assert found is not None and (found.subscription.provider, found.source_time, found.raw) == ("stripe", 7, raw)
    assert rollup.snapshot("stripe", {"object": "invoice"}, 7) is None
    assert rollup.snapshot("nobody", raw, 7) is None


@pytest.mark.parametrize("order", [(1_000, 2_000), (2_000, 1_000)])
def test_two_currencies_pick_the_newest_primary_and_no_mrr(order):
    """USD 50 and EUR 60 on one account: 60 € is not "more" than $50, so amounts are not compared; the newest
    live subscription is primary and MRR, having no one currency, is withheld and marked mixed."""
    usd = snap(sub(id_="sub_usd", amount="50.00", quantity=1, currency="USD"), at=order[0])
    eur = snap(sub(id_="sub_eur", amount="60.00", quantity=1, currency="EUR"), at=order[1])
    found = rollup.account([usd, eur], "acct-1")
    newest = "sub_eur" if order[1] > order[0] else "sub_usd"
    assert found["subscription"]["id"] == newest
    assert (found["mrr"], found["mrr_mixed"]) == (None, True)


def test_a_canceled_subscription_in_another_currency_neither_mixes_nor_wins():
    old = snap(sub(id_="sub_usd", amount="500.00", quantity=1, currency="USD", status="canceled"), at=3_000)
    new = snap(sub(id_="sub_eur", amount="60.00", quantity=1, currency="EUR"), at=1_000)
    found = rollup.account([old, new], "acct-1")
    assert (found["subscription"]["id"], found["mrr"], found["mrr_mixed"]) == ("sub_eur", 60.0, False)
