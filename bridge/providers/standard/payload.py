"""A webhook body as JSON: an object, no NaN or Infinity, nested no deeper than `MAX_DEPTH`, and its ISO times.

Shared by every provider that follows Standard Webhooks; errors are `PayloadError`s that never quote the body.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bridge.errors import PayloadError

MAX_DEPTH = 64  # nesting levels of a body; real events use about ten


def load_object(body: bytes) -> dict[str, Any]:
    """The body's JSON object; PayloadError when it is not JSON, not an object, has NaN/Infinity or nests too deep."""
    try:
        payload = json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:  # the C parser raises it well before the stack ends
        raise PayloadError(f"body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # also UnicodeDecodeError, and the refused constants
        raise PayloadError("body is not JSON") from None
    if not isinstance(payload, dict):
        raise PayloadError("body is not a JSON object")
    if depth_over(payload, MAX_DEPTH):
        raise PayloadError(f"body nests deeper than {MAX_DEPTH} levels")
    return payload


def depth_over(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest deeper than `limit`, walked without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


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


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
