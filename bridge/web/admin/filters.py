"""How the admin templates write times, durations and JSON, and how they read times typed into a form."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape


def when(seconds: float | None) -> str:
    """Unix seconds as a UTC date and time, to the second."""
    if seconds is None:
        return "—"
    return datetime.fromtimestamp(float(seconds), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def when_ms(milliseconds: int | None) -> str:
    """Epoch milliseconds (a value's source time, a track event's timestamp) as a UTC date and time."""
    return "—" if milliseconds is None else when(milliseconds / 1000)


def duration(seconds: float | None) -> str:
    """A length of time in the largest unit that reads well: 45 s, 12 min, 3.5 h, 2 d."""
    if seconds is None:
        return "—"
    value = float(seconds)
    for limit, unit, size in ((120, "s", 1), (7200, "min", 60), (172800, "h", 3600)):
        if value < limit:
            shown = value / size
            return f"{shown:.0f} {unit}" if unit == "s" or shown >= 10 else f"{shown:.1f} {unit}"
    return f"{value / 86400:.1f} d"


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def breakable(text: str | None) -> Markup:
    """Dotted names (`customer.subscription.updated`) that may wrap after a dot on a narrow screen."""
    return Markup(".<wbr>").join(escape(part) for part in (text or "").split("."))


def parse_time(text: str | None) -> float | None:
    """A time typed into a filter: unix seconds, or an ISO 8601 date/time (UTC when it names no zone)."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def form_time(seconds: float | None) -> str:
    """Unix seconds as the value of an `<input type="datetime-local">` (UTC)."""
    return "" if seconds is None else datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M")


FILTERS: dict[str, Callable[..., Any]] = {
    "when": when, "when_ms": when_ms, "duration": duration, "pretty": pretty, "compact": compact,
    "form_time": form_time, "breakable": breakable,
}
