"""Maxio values as webhooks (form text) and the API (JSON) write them, read the same way (pure).

A webhook writes everything as text: `""` for nil, `"true"`/`"false"`, `"4900"`, and times as
`2016-11-08 16:22:20 -0500` (US Eastern, offset included: docs.maxio.com, Webhooks Reference, "Webhook
Timestamps"). The API writes JSON types and ISO 8601 times with the site's offset. Each reader takes both and
answers None for anything else.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from bridge.billing import money

_FORMATS = ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S%z")


def text(value: object) -> str | None:
    """A non-empty string, or a whole number (ids arrive as numbers from the API) as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value else None


def whole(value: object) -> int | None:
    """A whole number, from an int or a string of digits (an optional minus sign)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 20:
        return int(value.strip())
    return None


def flag(value: object) -> bool | None:
    """`true`/`false` as a form or JSON writes it; None for nil or anything else."""
    if isinstance(value, bool):
        return value
    return {"true": True, "false": False}.get(value) if isinstance(value, str) else None


def cents(value: object, currency: str | None) -> Decimal | None:
    """An `*_in_cents` amount (minor units) in major units, by the currency's exponent (two when unknown)."""
    found = whole(value)
    return None if found is None else Decimal(found).scaleb(-money.exponent(currency))


def instant(value: object) -> float | None:
    """A webhook time (`2016-11-08 16:22:20 -0500`) or an API time (ISO 8601 with offset) as unix seconds."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    for layout in _FORMATS:
        try:
            return datetime.strptime(value, layout).timestamp()
        except ValueError:
            continue
    try:
        found = datetime.fromisoformat(value)
    except ValueError:
        return None
    return found.timestamp() if found.tzinfo is not None else None
