"""Clearing a Pendo field: the value a mapping gives when a fact has stopped being true.

Null means "this event has no value for the field" and is never sent, so it cannot take a value away. `clear()`
says the opposite: the field is to be emptied. It travels as JSON null in the metadata bulk API — the way Pendo's
API empties a custom field (docs/billing.md, "Clearing a field") — and is ordered and coalesced like any value,
with the time of the event that gave it, so a newer value still wins over an older clear and the other way round.
A clear is meaningless for a track event: as a property it is left out.
"""

from __future__ import annotations

from typing import Any, Final


class Clear:
    """The one "empty this field" marker (`CLEAR`); truthy, so `coalesce` keeps it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "clear()"


CLEAR: Final = Clear()


def is_clear(value: Any) -> bool:
    """Whether a mapping's value asks for the field to be emptied."""
    return value is CLEAR
