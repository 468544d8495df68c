"""One imported cell as the value Pendo's field takes: text, number, boolean or date.

CSV cells are text; JSON Lines and SQL bring their own types. A cell is converted to its field's known type
(`bridge.imports.fields`); a field of unknown type keeps a JSON or SQL value's own type, and takes a CSV cell as
text. An empty cell (or null) leaves the field as it is. The same input always gives the same value, so an
unchanged row is recognised as unchanged and not sent again.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from bridge.mapping.functions import format_date
from bridge.pendo.client import TEXT_MAX_CHARS

SKIP = object()  # an empty cell: the field is left as it is
TYPES = ("text", "number", "boolean", "date")
TRUE = frozenset({"true", "t", "yes", "y", "1"})
FALSE = frozenset({"false", "f", "no", "n", "0"})
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
EPOCH_MS_FROM = 100_000_000_000  # a number of at least this many is epoch milliseconds (from 1973), else seconds


class CellError(ValueError):
    """A cell that cannot be its field's type; the message says what it is and what was expected."""


def convert(value: Any, field_type: str | None, date_format: str, from_text: bool) -> Any:
    """`value` as its field's type; SKIP for an empty cell. `from_text`: the source only has text (CSV)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return SKIP
    if field_type is None:
        field_type = "text" if from_text else _native_type(value)
    converted = _CONVERTERS[field_type](value, date_format)
    if isinstance(converted, str) and len(converted) > TEXT_MAX_CHARS:
        raise CellError(f"is {len(converted)} characters long: Pendo keeps at most {TEXT_MAX_CHARS}")
    return converted


def _native_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, datetime | date):
        return "date"
    if isinstance(value, str):
        return "text"
    raise CellError(f"is {type(value).__name__}, not a flat value (text, number, boolean or date)")


def _text(value: Any, _date_format: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str | int | float | Decimal):
        return str(value)
    raise CellError(f"is {type(value).__name__}, not text")


def _number(value: Any, _date_format: str) -> int | float:
    if isinstance(value, bool):
        raise CellError("is a boolean, not a number")
    if isinstance(value, Decimal):
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER.fullmatch(text):
            return int(text)
        if not _DECIMAL.fullmatch(text):
            raise CellError(f"{value!r} is not a number")
        value = float(text)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)  # 12.0 and 12 are one value: the same input gives the same JSON
    if isinstance(value, int | float) and math.isfinite(value):
        return value
    raise CellError(f"{value!r} is not a number")


def _boolean(value: Any, _date_format: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    raise CellError(f"{value!r} is not a boolean (true/false, yes/no, 1/0)")


def _date(value: Any, date_format: str) -> str | int:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, date):
        moment = datetime.combine(value, time(), UTC)
    elif isinstance(value, bool):
        raise CellError("is a boolean, not a date")
    elif isinstance(value, int | float | Decimal) or (isinstance(value, str) and _DECIMAL.fullmatch(value.strip())):
        number = float(value)
        moment = datetime.fromtimestamp(number / 1000 if abs(number) >= EPOCH_MS_FROM else number, UTC)
    elif isinstance(value, str):
        moment = _parse_date(value.strip())
    else:
        raise CellError(f"is {type(value).__name__}, not a date")
    formatted = format_date(moment.timestamp(), date_format)
    assert formatted is not None
    return formatted


def _parse_date(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text + "T00:00:00+00:00" if _DATE_ONLY.fullmatch(text) else text)
    except ValueError:
        raise CellError(f"{text!r} is not a date (ISO 8601 such as 2026-01-31 or 2026-01-31T09:30:00Z, or epoch "
                        "seconds or milliseconds)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_CONVERTERS = {"text": _text, "number": _number, "boolean": _boolean, "date": _date}
