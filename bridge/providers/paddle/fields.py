"""Paddle's value types, read strictly: RFC 3339 times and money strings in the currency's lowest denomination.

Paddle sends every amount as a string of minor units ("4900" is 49.00 USD; "1000" is 1000 JPY) and every time
as an RFC 3339 string in UTC (developer.paddle.com/api-reference/about/data-types). Anything else reads as
None, which the model treats as "not said", never as zero.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from bridge.billing import money
from bridge.providers.values import currency_code

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
