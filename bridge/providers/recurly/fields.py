"""Reading Recurly's JSON values beyond the shared readers (`bridge.providers.values`): counts and id lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.providers.values import text

Raw = Mapping[str, Any]


def quantity_of(value: object) -> int | None:
    """A whole, non-negative number (a quantity); None otherwise."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def first_id(value: object) -> str | None:
    """The first id of a list of ids (`subscription_ids`), else None."""
    return text(value[0]) if isinstance(value, list) and value else None
