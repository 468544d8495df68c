"""Imported cells as their field's type: CSV text converted, JSON and SQL values kept or converted."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from bridge.imports.cells import SKIP, CellError, convert


@pytest.mark.parametrize(("value", "field_type", "expected"), [
    ("12", "number", 12), (" 12 ", "number", 12), ("12.0", "number", 12), ("-0.5", "number", -0.5),
    ("1e3", "number", 1000), (Decimal("49.90"), "number", 49.9), (Decimal("3"), "number", 3), (7.0, "number", 7),
    ("yes", "boolean", True), ("FALSE", "boolean", False), ("1", "boolean", True), (0, "boolean", False),
    (True, "boolean", True),
    ("2026-01-31", "date", "2026-01-31T00:00:00.000Z"),
    ("2026-01-31T09:30:00+01:00", "date", "2026-01-31T08:30:00.000Z"),
    ("2026-01-31 09:30:00", "date", "2026-01-31T09:30:00.000Z"),
    ("1769851800", "date", "2026-01-31T09:30:00.000Z"), ("1769851800000", "date", "2026-01-31T09:30:00.000Z"),
    (datetime(2026, 1, 31, 9, 30, tzinfo=UTC), "date", "2026-01-31T09:30:00.000Z"),
    (date(2026, 1, 31), "date", "2026-01-31T00:00:00.000Z"),
    ("12", "text", "12"), (12, "text", "12"), (True, "text", "true"),
])
def test_cells_convert_to_the_fields_type(value: Any, field_type: str, expected: Any) -> None:
    assert convert(value, field_type, "iso", from_text=True) == expected


@pytest.mark.parametrize(("value", "from_text", "expected"), [
    ("12", True, "12"), (12, False, 12), (1.5, False, 1.5), (True, False, True), ("x", False, "x"),
    (Decimal("2.50"), False, 2.5), (datetime(2026, 1, 31, tzinfo=UTC), False, "2026-01-31T00:00:00.000Z"),
])
def test_cells_without_a_known_type_csv_is_text_and_json_keeps_its_type(value: Any, from_text: bool,
                                                                         expected: Any) -> None:
    assert convert(value, None, "iso", from_text) == expected


@pytest.mark.parametrize("value", ["", "  ", None])
def test_cells_empty_cells_leave_the_field_alone(value: Any) -> None:
    assert convert(value, "number", "iso", from_text=True) is SKIP


@pytest.mark.parametrize(("value", "field_type", "fragment"), [
    ("abc", "number", "not a number"), ("1,234", "number", "not a number"), ("nan", "number", "not a number"),
    (True, "number", "boolean"), ("maybe", "boolean", "not a boolean"), (2, "boolean", "not a boolean"),
    ("31/01/2026", "date", "not a date"), ("x" * 1501, "text", "1500"), ({"a": 1}, None, "not a flat value"),
    ([1], "text", "not text"),
])
def test_cells_that_cannot_be_the_type_say_why(value: Any, field_type: str | None, fragment: str) -> None:
    with pytest.raises(CellError, match=fragment):
        convert(value, field_type, "iso", from_text=False)


def test_cells_dates_follow_the_date_format_setting() -> None:
    assert convert("2026-01-31", "date", "epoch_ms", from_text=True) == 1769817600000
