"""Readers of the JSON values in providers' payloads and answers: each answers None (or `{}`) for anything else.

A payload is read field by field, and a field of the wrong type must read as "not said", never as a guess; these
are the readers several providers share. What one provider writes its own way (Paddle's minor-unit strings,
Maxio's form text) keeps its reader in that provider's package.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any


def text(value: object) -> str | None:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def identifier(value: object) -> str | None:
    """An id: a non-empty string, or a whole number (some APIs write ids as numbers) as text; else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return text(value)


def mapping(value: object) -> Mapping[str, Any]:
    """The value when it is an object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def whole(value: object) -> int | None:
    """A whole number (not a boolean), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def decimal(value: object) -> Decimal | None:
    """A JSON number or decimal string as a finite Decimal (floats through their shortest text: 49.99, not 49.98…)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        found = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return found if found.is_finite() else None


def currency_code(value: object) -> str | None:
    """An ISO 4217 code, upper case; None unless three ASCII letters."""
    if isinstance(value, str) and len(value) == 3 and value.isascii() and value.isalpha():
        return value.upper()
    return None
