"""Braintree's times and dates as unix seconds (pure).

Notification timestamps and `created-at` / `updated-at` are ISO 8601 UTC datetimes (`2026-11-02T09:20:12Z`).
Billing dates (`next-billing-date`, `billing-period-end-date`, `first-billing-date`) are calendar dates in the
merchant account's time zone, which the payload does not give: they are read as midnight UTC, so a time from
them may be off by the merchant's UTC offset (docs/providers/braintree.md, gap table).
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime


def instant(value: object) -> float | None:
    """An ISO 8601 datetime as unix seconds (UTC when no offset is written); None when it is not one."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        found = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if found.tzinfo is None:
        found = found.replace(tzinfo=UTC)
    return found.timestamp()


def day(value: object) -> date | None:
    """A calendar date `YYYY-MM-DD`; None when it is not one."""
    if not isinstance(value, str) or len(value.strip()) != 10:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def midnight(value: object) -> float | None:
    """A billing date as unix seconds at 00:00 UTC; None when it is not a date."""
    found = day(value)
    return None if found is None else datetime(found.year, found.month, found.day, tzinfo=UTC).timestamp()


def months_between(start: date, end: date) -> int | None:
    """The whole number of months a billing period from `start` to `end` (inclusive) spans; None if not whole.

    Braintree bills in whole months; a period starting on the 1st of January of a 1-month plan ends on the 31st,
    so the period is `end + 1 day - start`, matched against whole-month steps from `start` (a month-end start
    day is clamped the way a calendar clamps 31 → 30 or 28)."""
    following = date.fromordinal(end.toordinal() + 1)
    months = (following.year - start.year) * 12 + following.month - start.month
    if months < 1 or _add_months(start, months) != following:
        return None
    return months


def _add_months(start: date, months: int) -> date:
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
