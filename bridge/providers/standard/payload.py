"""The ISO 8601 times of Standard Webhooks bodies (the bodies themselves are read by `bridge.providers.bodies`)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_time(value: object) -> float | None:
    """An ISO 8601 time (`Z` or an offset; no offset is read as UTC) as unix seconds; None when it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.timestamp()
    except (OverflowError, OSError, ValueError):
        return None
