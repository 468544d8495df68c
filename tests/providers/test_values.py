from decimal import Decimal

import pytest

from bridge.providers.values import currency_code, decimal, identifier, mapping, text, whole


@pytest.mark.parametrize(("value", "expected"), [("abc", "abc"), (" ", " "), ("", None), (7, None), (None, None)])
def test_text_is_a_non_empty_string(value: object, expected: str | None) -> None:
    assert text(value) == expected


@pytest.mark.parametrize(("value", "expected"), [("sub_1", "sub_1"), (42, "42"), (0, "0"), (True, None), ("", None),
                                                 (1.5, None)])
def test_identifier_takes_strings_and_whole_numbers(value: object, expected: str | None) -> None:
    assert identifier(value) == expected


def test_mapping_is_the_object_or_an_empty_one() -> None:
    assert mapping({"a": 1}) == {"a": 1}
    assert mapping([1]) == {} and mapping(None) == {}


@pytest.mark.parametrize(("value", "expected"), [(3, 3), (-2, -2), (True, None), ("3", None), (3.0, None)])
def test_whole_is_an_int_not_a_bool(value: object, expected: int | None) -> None:
    assert whole(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (49.99, Decimal("49.99")), ("12.50", Decimal("12.50")), (" 3 ", Decimal("3")), (7, Decimal("7")),
    ("NaN", None), ("Infinity", None), ("1e2", Decimal("1e2")), ("12,50", None), (True, None), (None, None),
])
def test_decimal_reads_finite_numbers_and_decimal_strings(value: object, expected: Decimal | None) -> None:
    assert decimal(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("usd", "USD"), ("EUR", "EUR"), ("US", None), ("USDT", None), ("U1D", None), ("ÄÖÜ", None), (840, None),
])
def test_currency_code_is_three_ascii_letters_upper_cased(value: object, expected: str | None) -> None:
    assert currency_code(value) == expected
