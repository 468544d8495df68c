"""Masks personal data in payloads the admin console shows: the value of every key matching BRIDGE_REDACT_FIELDS.

A pattern is a key name or a glob (`*_email`), matched case-insensitively against each key at any depth; the whole
value under a matching key is masked (an `address` object goes as one mask). Null and empty values stay as they
are: they reveal nothing and show that the field was empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Any

MASK = "•••"


def matches(key: str, patterns: Iterable[str]) -> bool:
    lowered = key.lower()
    return any(fnmatchcase(lowered, pattern) for pattern in patterns)


def redact(value: Any, patterns: tuple[str, ...]) -> Any:
    """A copy of a JSON value with the values of matching keys masked."""
    if isinstance(value, dict):
        return {key: MASK if _masked(key, item, patterns) else redact(item, patterns) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item, patterns) for item in value]
    return value


def _masked(key: Any, item: Any, patterns: tuple[str, ...]) -> bool:
    return isinstance(key, str) and item not in (None, "", [], {}) and matches(key, patterns)
