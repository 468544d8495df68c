"""Strict JSON for what providers send: webhook bodies and API answers alike.

Python's `json` accepts `NaN`, `Infinity` and numbers too large for a float (read as infinity), none of which is
JSON a provider means; and a deeply nested body costs memory and stack for nothing. Both readers refuse these with
a `PayloadError` that never quotes the body.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from bridge.errors import PayloadError

MAX_DEPTH = 64  # nesting levels of a body; real events use about ten


def read_json(body: bytes) -> Any:
    """The body's JSON; PayloadError when it is not JSON, has NaN/Infinity/1e400 or nests deeper than MAX_DEPTH."""
    try:
        payload = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite)
    except RecursionError:  # the C parser raises it well before the stack ends
        raise PayloadError(f"body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # also UnicodeDecodeError, and the refused constants and numbers
        raise PayloadError("body is not JSON") from None
    if nests_too_deep(body, payload):
        raise PayloadError(f"body nests deeper than {MAX_DEPTH} levels")
    return payload


def nests_too_deep(body: bytes, payload: Any) -> bool:
    """Whether the body parsed into `payload` nests deeper than MAX_DEPTH. A body with no more opening brackets than
    that cannot (counting them is a C loop); only a longer one has its parsed tree walked."""
    return body.count(b"{") + body.count(b"[") > MAX_DEPTH and depth_over(payload, MAX_DEPTH)


def load_object(body: bytes) -> dict[str, Any]:
    """The body's JSON object: `read_json`, and PayloadError when the JSON is not an object."""
    payload = read_json(body)
    if not isinstance(payload, dict):
        raise PayloadError("body is not a JSON object")
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


def derived_id(body: bytes) -> str:
    """A stable id for a body read without its delivery headers (`read`, the dry run): the same body gives the
    same id, where the webhook would have carried the provider's own id in a header."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def lowered(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Headers with lower-case names, as the web layer hands them to providers (none: an empty mapping)."""
    return {name.lower(): value for name, value in (headers or {}).items()}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    """A JSON number as a float; one too large for a float (1e400) is refused rather than read as infinity."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("a number too large for a float")
    return value
