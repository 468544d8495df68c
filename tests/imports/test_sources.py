"""Sources read row by row: numbers and lines for messages, rows that cannot be read, the identity for resuming."""

from __future__ import annotations

import os
from pathlib import Path

from bridge.imports.sources import CsvFile, JsonLinesFile


def test_sources_csv_rows_are_numbered_without_blank_lines_and_a_bad_row_does_not_end_the_file(
        tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("accountId,notes\nacme,ok\n\nbeta,\"" + "x" * 200_000 + "\"\ngamma,fine\ndelta\n")
    with CsvFile(path).open() as opened:
        rows = list(opened.rows)
    assert opened.columns == ["accountId", "notes"]
    assert [(r.number, r.where, r.error is None) for r in rows] == [
        (1, "row 1 (line 2)", True), (2, "row 2 (line 4)", False), (3, "row 3 (line 5)", True),
        (4, "row 4 (line 6)", False)]
    assert rows[1].error is not None and "field larger than field limit" in rows[1].error
    assert rows[3].error == "has 1 cells; the header names 2 columns"


def test_sources_identity_changes_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "v.jsonl"
    path.write_text('{"visitorId": "u"}\n')
    first = JsonLinesFile(path).identity
    assert JsonLinesFile(path).identity == first
    path.write_text('{"visitorId": "u", "x": 1}\n')
    os.utime(path, ns=(1, 1))
    assert JsonLinesFile(path).identity != first
