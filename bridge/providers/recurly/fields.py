"""Reading Recurly's JSON values: amounts (major units, as Recurly writes them), counts, currencies, text."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

Raw = Mapping[str, Any]


def decimal(value: object) -> Decimal | None:
    """A JSON number or decimal string as a Decimal (floats through their shortest text: 49.99, not 49.98999…)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def quantity_of(value: object) -> int | None:
    """A whole, non-negative number (a quantity); None otherwise."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def mapping(value: object) -> Raw:
    """An object, or an empty one for anything else."""
    return value if isinstance(value, Mapping) else {}


def currency_code(value: object) -> str | None:
    """An ISO 4217 code, upper case; None when it is not three letters."""
    return value.upper() if isinstance(value, str) and len(value) == 3 and value.isalpha() else None


def text(value: object) -> str | None:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def first_id(value: object) -> str | None:
    """The first id of a list of ids (`subscription_ids`), else None."""
    return text(value[0]) if isinstance(value, list) and value else None
