from decimal import Decimal

import pytest

from bridge.billing import mrr
from bridge.billing.model import Discount, Item, Subscription


def line(amount="10.00", interval="month", count=1, quantity=1, price_id="price_1", **fields):
    return Item(price_id=price_id, plan="Pro", amount=None if amount is None else Decimal(amount), currency="USD",
                interval=interval, interval_count=count, quantity=quantity, **fields)


def sub(*items, status="active", currency="USD", **fields):
    return Subscription(provider="test", id="sub_1", customer_id="cus_1", status=status, items=items,
                        currency=currency, **fields)


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (line("10.00"), "10.00"),
        (line("120.00", "year"), "10.00"),
        (line("120.00", "year", count=2), "5.00"),
        (line("12.00", "week"), "52.00"),
        (line("0.12", "day"), "3.65"),
        (line("30.00", count=3), "10.00"),
        (line("5.00", metered=True), "0.00"),
    ],
)
def test_mrr_normalises_each_interval_to_a_month(item, expected):
    assert mrr.mrr(sub(item)) == mrr.Monthly(Decimal(expected))


@pytest.mark.parametrize(("status", "counted"), [
    ("active", True), ("past_due", True), ("trialing", False), ("paused", False), ("unpaid", False),
    ("canceled", False), ("incomplete", False), (None, False)])
def test_mrr_counts_only_active_and_past_due(status, counted):
    assert mrr.mrr(sub(line("49.00", quantity=3), status=status)).amount == Decimal("49.00" if counted else "0")
    assert mrr.list_mrr(sub(line("49.00"), status=status)).amount == Decimal("49.00")


def test_mrr_withholds_an_unknown_amount_with_its_reason():
    found = mrr.mrr(sub(line("10.00"), line(None, price_id="price_t", gap="price price_t is tiered")))
    assert found == mrr.Monthly(None, ("price price_t is tiered",))
    assert mrr.mrr(sub(line(None), status="canceled")).amount == 0
    assert mrr.mrr(sub(line("10.00"), gaps=("a discount is not expanded",))).gaps == ("a discount is not expanded",)
    assert mrr.mrr(sub(line(None))).gaps == ("price price_1 has no known amount",)


def test_mrr_takes_the_providers_own_figure():
    assert mrr.mrr(sub(line(None), status="canceled", mrr=Decimal("12.50"))) == mrr.Monthly(Decimal("12.50"))


@pytest.mark.parametrize(
    ("discount", "expected"),
    [
        (Discount(percent_off=Decimal(20)), "80.00"),
        (Discount(amount_off=Decimal(15), currency="USD"), "85.00"),
        (Discount(amount_off=Decimal(15), currency="EUR"), None),  # its amount in USD is not known: withheld
        (Discount(amount_off=Decimal(999)), "0.00"),
        (Discount(percent_off=Decimal(50), ends_at=2_000), "50.00"),  # not yet ended
        (Discount(percent_off=Decimal(50), ends_at=1_000), "100.00"),  # over
        (Discount(percent_off=Decimal(50), price_ids=("price_other",)), "100.00"),
        (Discount(percent_off=Decimal(50), price_ids=("price_1",)), "50.00"),
    ],
)
def test_mrr_applies_the_discounts_that_count(discount, expected):
    found = mrr.mrr(sub(line("100.00"), discounts=(discount,)), at=1_500).amount
    assert found == (None if expected is None else Decimal(expected))


def test_mrr_spreads_an_amount_off_over_the_main_lines_interval():
    yearly = sub(line("1200.00", "year"), line("1.00", price_id="price_small"),
                 discounts=(Discount(amount_off=Decimal(120)),))
    assert mrr.mrr(yearly).amount == Decimal("91.00")  # 100 + 1 - 120/12


@pytest.mark.parametrize(("currency", "amount", "expected"),
                         [("JPY", "1000", "83.00"), ("KWD", "12.345", "12.35"), ("USD", "2.345", "2.35")])
def test_mrr_rounds_to_the_minor_unit_then_to_cents(currency, amount, expected):
    item = Item(price_id="p", plan=None, amount=Decimal(amount), currency=currency, interval="year"
                if currency == "JPY" else "month")
    assert mrr.mrr(sub(item, currency=currency)).amount == Decimal(expected)


def test_main_item_is_the_largest_monthly_line_and_the_first_of_equals():
    small, large, equal = line("1.00", price_id="a"), line("50.00", price_id="b"), line("50.00", price_id="c")
    assert mrr.main_item(sub(small, large, equal)) is large
    assert mrr.main_item(sub()) is None
    assert mrr.mrr(sub()).amount == 0


def test_an_amount_off_a_tax_inclusive_price_is_taken_before_the_tax_is_removed():
    """$120 inclusive of 20 % tax with $12 off forever: (120 - 12) / 1.2 = 90 (a percentage gives the same either
    way). docs.stripe.com/billing/taxes/tax-rates#inclusive-vs-exclusive-tax."""
    net = line("100.00", tax_divisor=Decimal("1.2"))
    whole = sub(net, discounts=(Discount(amount_off=Decimal("12.00"), currency="USD"),))
    own = sub(net, discounts=(Discount(amount_off=Decimal("12.00"), currency="USD", price_ids=("price_1",)),))
    percent = sub(net, discounts=(Discount(percent_off=Decimal(10)),))
    assert [mrr.mrr(s).amount for s in (whole, own, percent)] == [Decimal("90.00"), Decimal("90.00"),
                                                                   Decimal("90.00")]


def test_an_amount_off_over_lines_with_different_inclusive_taxes_is_withheld():
    lines = (line("100.00", tax_divisor=Decimal("1.2")), line("50.00", price_id="price_2"))
    found = mrr.mrr(sub(*lines, discounts=(Discount(amount_off=Decimal("12.00"), currency="USD"),)))
    assert found.amount is None and "different inclusive taxes" in found.gaps[0]


def test_an_amount_off_in_another_currency_withholds_mrr_rather_than_being_skipped():
    eur = line("100.00")
    eur = Item(**{**eur.__dict__, "currency": "EUR"})
    found = mrr.mrr(sub(eur, currency="EUR", discounts=(Discount(amount_off=Decimal("12.00"), currency="USD"),)))
    assert found.amount is None and "12.00 USD on a subscription in EUR" in found.gaps[0]
    known = sub(eur, currency="EUR", discounts=(Discount(amount_off=Decimal("9.00"), currency="EUR"),))
    assert mrr.mrr(known).amount == Decimal("91.00")
