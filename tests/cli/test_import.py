"""`bridge import` as a user runs it: exit codes, the row number of a bad row, notes, a dry run."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_main import run

ENV = {"STRIPE_WEBHOOK_SECRET": "whsec_x"}


def test_cli_import_bad_row_exits_1_with_its_number_and_a_rerun_resumes(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate", **ENV).returncode == 0
    (tmp_path / "a.csv").write_text("accountId,seats,plan\nacme,5,pro\nbeta,five,team\ngamma,7,pro\n")
    stopped = run(tmp_path, "import", "accounts", "a.csv", "--type", "seats=number", **ENV)
    assert stopped.returncode == 1
    assert "row 2 (line 3): seats: 'five' is not a number" in stopped.stderr
    assert "no type is known for plan" in stopped.stderr
    resumed = run(tmp_path, "import", "accounts", "a.csv", "--type", "seats=number", "--skip-bad-rows", **ENV)
    assert resumed.returncode == 0 and "skipped 1 bad rows" in resumed.stderr
    summary = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert (summary["resumed_after_row"], summary["rows"], summary["changed_entities"]) == (1, 2, 1)


def test_cli_import_dry_run_prints_changes_and_stores_nothing(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate", **ENV).returncode == 0
    (tmp_path / "v.jsonl").write_text('{"visitorId": "u1", "role": "admin"}\n')
    dry = run(tmp_path, "import", "visitors", "v.jsonl", "--dry-run", **ENV)
    assert dry.returncode == 0 and 'visitor u1: role: (not set) -> "admin"' in dry.stdout
    status = json.loads(run(tmp_path, "status", "--json", **ENV).stdout)
    assert status["sources"] == {} and status["imports"] == {}


def test_cli_import_cannot_start_exits_2(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate", **ENV).returncode == 0
    (tmp_path / "a.csv").write_text("id,seats\nacme,5\n")
    cases = [("import", "accounts", "a.csv"), ("import", "accounts"), ("import", "accounts", "--sql", "select 1"),
             ("import", "accounts", "missing.csv"), ("import", "accounts", "a.csv", "--type", "seats")]
    for args in cases:
        result = run(tmp_path, *args, **ENV)
        assert result.returncode == 2, (args, result.stderr)
        assert "bridge: " in result.stderr and "Traceback" not in result.stderr
