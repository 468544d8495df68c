"""Paddle's value types, read strictly: RFC 3339 times and money strings in the currency's lowest denomination.

Paddle sends every amount as a string of minor units ("4900" is 49.00 USD; "1000" is 1000 JPY) and every time
as an RFC 3339 string in UTC (developer.paddle.com/api-reference/about/data-types). Anything else reads as
None, which the model treats as "not said", never as zero.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from bridge.billing import money

# The currencies Paddle Billing sells in (CurrencyCode in PaddleHQ/paddle-python-sdk); their exponents are
# ISO 4217's, as bridge.billing.money has them (JPY, KRW, CLP and VND have none). An amount in any other
# currency is not converted: its exponent would be a guess.
CURRENCIES = frozenset(
    "USD EUR GBP JPY AUD CAD CHF HKD SGD SEK ARS BRL CLP CNY COP CZK DKK HUF ILS INR KRW MXN NOK NZD PEN PLN RUB "
    "THB TRY TWD UAH VND ZAR".split()
)
_MINOR_UNITS = re.compile(r"-?[0-9]{1,18}")
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def rfc3339(value: object) -> float | None:
    """Unix seconds of an RFC 3339 time with its offset; None for anything else (a naive time included)."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError):
        return None


def major(amount: object, currency: object) -> Decimal | None:
    """A minor-unit string as a Decimal in major units, at the currency's exponent; None when unreadable."""
    if not isinstance(amount, str) or not _MINOR_UNITS.fullmatch(amount) or currency_code(currency) not in CURRENCIES:
        return None
    return Decimal(amount).scaleb(-money.exponent(str(currency)))


def currency_code(value: object) -> str | None:
    """An ISO 4217 code, upper case; None unless three letters."""
    if isinstance(value, str) and len(value) == 3 and value.isascii() and value.isalpha():
        return value.upper()
    return None


def text(value: object) -> str | None:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def mapping(value: object) -> Mapping[str, Any]:
    """The value when it is an object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def whole(value: object) -> int | None:
    """A whole number (not a boolean), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
