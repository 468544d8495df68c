"""Times as senders give them — epoch milliseconds or an ISO 8601 string with its zone — as epoch milliseconds."""

from __future__ import annotations

import re
from datetime import datetime

# RFC 3339 / ISO 8601 with a zone: a time without one would mean whatever the sender's server thinks it means.
ISO_8601 = (r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]"
            r"(:[0-5][0-9](\.[0-9]{1,9})?)?(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])$")
_ISO = re.compile(ISO_8601.removesuffix("$") + r"\Z")  # JSON Schema's `$`: the end of the text
FUTURE_TOLERANCE_MS = 300_000  # a sender's clock may run ahead this much; further is refused


def epoch_ms(value: object) -> int:
    """Epoch milliseconds from an integer (ms) or an ISO 8601 string; ValueError saying why not."""
    if isinstance(value, bool):
        raise ValueError("a time is epoch milliseconds or an ISO 8601 string, not a boolean")
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        if value < 0:
            raise ValueError("a time in epoch milliseconds cannot be negative")
        return int(value)
    if isinstance(value, str) and _ISO.match(value):
        try:
            return round(datetime.fromisoformat(value).timestamp() * 1000)
        except ValueError as exc:
            raise ValueError(f"not a valid date: {exc}") from None
    raise ValueError("a time is an integer of epoch milliseconds or an ISO 8601 string with its zone, "
                     "e.g. 2026-01-31T09:30:00Z")


def too_far_ahead(moment_ms: int, now_ms: int) -> bool:
    """A time further in the future than a sender's clock can be off: it would outrank every real update."""
    return moment_ms - now_ms > FUTURE_TOLERANCE_MS
