"""One row into one update: its id, its time (naive SQL times are UTC), its typed values, or why it is bad."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import pytest

from bridge.imports.fields import resolve
from bridge.imports.rows import BadRow, RowReader
from bridge.imports.sources import Row

T0 = 1_790_000_000_000


def reader(**options: Any) -> RowReader:
    return RowReader("visitor", resolve({"logins": "number"}, None, {}), "iso", from_text=False,
                     clock=lambda: T0 / 1000, **options)


@pytest.mark.parametrize(("when", "expected"), [
    (datetime(2026, 9, 21, 14, 13, 20), T0), (date(2026, 9, 21), 1_789_948_800_000),
    ("2026-09-21T16:13:20+02:00", T0), (str(T0 - 5), T0 - 5), (T0 - 7, T0 - 7), (None, 42),
])
def test_rows_times_naive_sql_times_are_utc(when: Any, expected: int) -> None:
    update = reader(timestamp_column="seen").update(Row(1, "row 1", {"visitorId": "u", "seen": when, "logins": 3}),
                                                    default_ms=42, rank=1)
    assert update is not None and update.source_time == expected and update.values == {"logins": 3}


@pytest.mark.parametrize(("cells", "fragment"), [
    ({"visitorId": "", "logins": 1}, "visitorId is empty"),
    ({"visitorId": "é" * 65, "logins": 1}, "over 128 bytes"),
    ({"logins": 1}, "has no visitorId"),
    ({"visitorId": "u", "logins": "many"}, "logins: 'many' is not a number (the field logins is number, by --type)"),
    ({"visitorId": "u", "bad name": 1}, "not a Pendo field name"),
    ({"visitorId": "u", "seen": "2999-01-01T00:00:00Z", "logins": 1}, "future"),
    ({"visitorId": "u\x00v", "logins": 1}, "NUL character"),
])
def test_rows_bad_rows_say_where_and_why(cells: dict[str, Any], fragment: str) -> None:
    with pytest.raises(BadRow, match=re.escape(fragment)):
        reader(timestamp_column="seen").update(Row(7, "row 7 (line 8)", cells), default_ms=42, rank=7)


def test_rows_all_empty_is_no_update() -> None:
    assert reader().update(Row(1, "row 1", {"visitorId": "u", "logins": None}), default_ms=1, rank=1) is None
