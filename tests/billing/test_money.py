import pytest

from bridge.billing import money


@pytest.mark.parametrize(
    ("currency", "expected"),
    [
        ("usd", 2), ("EUR", 2), ("jpy", 0), ("JPY", 0), ("krw", 0), ("vnd", 0), ("xof", 0),
        ("kwd", 3), ("BHD", 3), ("tnd", 3), (None, 2), ("", 2), ("zzz", 2), (" jpy ", 0),
    ],
)
def test_exponent_follows_stripe_table(currency, expected):
    assert money.exponent(currency) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (1999, "usd", 19.99),
        (500, "jpy", 500.0),
        (500, "JPY", 500.0),
        (1234, "kwd", 1.234),
        (-250, "eur", -2.5),
        ("1999", "usd", 19.99),
        ("12.5", "usd", 0.13),  # half-up at the currency's exponent
        (408.3333, "usd", 4.08),
        (12345.5, "jpy", 12346.0),
        (0, "usd", 0.0),
        (None, "usd", None),
        (5, None, 0.05),
    ],
)
def test_to_major_converts_by_exponent(amount, currency, expected):
    assert money.to_major(amount, currency) == expected


@pytest.mark.parametrize(("amount", "error"), [("abc", ValueError), ("nan", ValueError), (True, TypeError),
                                               ([1], TypeError)])
def test_to_major_refuses_non_amounts(amount, error):
    with pytest.raises(error):
        money.to_major(amount, "usd")


@pytest.mark.parametrize(("value", "places", "expected"), [(12.345, 2, 12.35), (2.675, 2, 2.68), (1.5, 0, 2.0),
                                                           (-1.005, 2, -1.01)])
def test_round_half_up_rounds_decimal_halves_up(value, places, expected):
    assert money.round_half_up(value, places) == expected
