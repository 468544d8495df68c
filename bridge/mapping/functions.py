"""The functions mapping expressions may call, bound to one mapping set's lookups and date format.

All are None-safe: a None (missing) argument gives None rather than an error, so a field whose source is
absent from an event is simply not sent. `clear()` is the one way to empty a field (bridge.mapping.clearing).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from bridge.billing import money
from bridge.mapping import bounds
from bridge.mapping.clearing import CLEAR, Clear
from bridge.providers.registry import mapping_modules

OWN_NAMES = ("money", "date", "coalesce", "lookup", "upper", "lower", "clear")
# A provider package's own functions (its `mapping` module's `FUNCTIONS`), kept for existing overlays; each names
# its neutral replacement, which `bridge check` tells.
PROVIDER_FUNCTIONS: dict[str, Callable[..., Any]] = {
    name: function for module in mapping_modules() for name, function in getattr(module, "FUNCTIONS", {}).items()}
PROVIDER_TYPES: dict[str, str] = {
    name: kind for module in mapping_modules() for name, kind in getattr(module, "TYPES", {}).items()}
REPLACEMENTS: dict[str, str] = {
    name: text for module in mapping_modules() for name, text in getattr(module, "REPLACEMENTS", {}).items()}
FUNCTION_NAMES = (*OWN_NAMES, *PROVIDER_FUNCTIONS)
DATE_FORMATS = ("iso", "epoch_ms")


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | tuple | dict) and len(value) == 0)


def _as_datetime(value: Any) -> datetime:
    """A unix time in seconds or an ISO 8601 string as an aware UTC datetime (naive means UTC)."""
    if isinstance(value, bool):
        raise TypeError("a date cannot be a boolean")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip())
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise TypeError(f"a date must be unix seconds or an ISO 8601 string, not {type(value).__name__}")


def format_date(value: Any, date_format: str) -> str | int | None:
    """A date as Pendo takes it: RFC 3339 UTC with milliseconds ("iso") or integer epoch ms."""
    if value is None:
        return None
    moment = _as_datetime(value)
    if date_format == "epoch_ms":
        return round(moment.timestamp() * 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Functions:
    """The expression functions; an instance binds the options some of them need."""

    def __init__(self, date_format: str = "iso", lookups: Mapping[str, Mapping[Any, Any]] | None = None):
        if date_format not in DATE_FORMATS:
            raise ValueError(f"date format must be one of {', '.join(DATE_FORMATS)}")
        self._date_format = date_format
        self._lookups = lookups or {}

    def namespace(self) -> dict[str, Callable[..., Any]]:
        """The functions by the names expressions use."""
        return {**{name: getattr(self, name) for name in OWN_NAMES}, **PROVIDER_FUNCTIONS}

    def money(self, amount_minor: Any, currency: Any) -> float | None:
        """Minor units as major units of the currency, rounded to 2 decimals."""
        major = money.to_major(amount_minor, currency)
        return None if major is None else money.round_half_up(major)

    def date(self, value: Any) -> str | int | None:
        """Unix seconds or an ISO string in the configured Pendo date format."""
        return format_date(value, self._date_format)

    def coalesce(self, *values: Any) -> Any:
        """The first value that is neither None nor empty."""
        return next((value for value in values if not _is_empty(value)), None)

    def lookup(self, table: str, key: Any, default: Any = None) -> Any:
        """The value for `key` in a table of the mapping files' `lookups:`, else `default`."""
        if table not in self._lookups:
            raise LookupError(f"no lookup table {table!r}")
        return self._lookups[table].get(key, default)

    def clear(self) -> Clear:
        """Empty the field in Pendo (sent as null); e.g. `coalesce(date(x), clear())` once `x` is no longer set."""
        return CLEAR

    def upper(self, value: Any) -> str | None:
        """Upper case text."""
        return None if value is None else bounds.stringify(value, "the text for upper").upper()

    def lower(self, value: Any) -> str | None:
        """Lower case text."""
        return None if value is None else bounds.stringify(value, "the text for lower").lower()


def is_function(value: Any) -> bool:
    """Whether `value` is one of the functions of some `Functions` or a provider package's own (the sandbox
    calls nothing else)."""
    bound_to = getattr(value, "__self__", None)
    if isinstance(bound_to, Functions):
        return getattr(value, "__name__", "") in OWN_NAMES
    return any(value is function for function in PROVIDER_FUNCTIONS.values())
