"""A careless admin's numbers, through the real `bridge` command: every bad value stops it, naming the variable."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SECRET
from tests.e2e.harness import BIN


def run_migrate(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(tmp_path),
            "STRIPE_WEBHOOK_SECRET": SECRET, "DATABASE_URL": f"sqlite:///{tmp_path / 'bridge.db'}"}
    return subprocess.run([str(BIN / "bridge"), "migrate"], env={**base, **env}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    ("name", "value"),
    [("PORT", "nan"), ("PORT", "inf"), ("PORT", "8000.5"), ("PORT", "70000"), ("BRIDGE_MAX_BODY_BYTES", "inf"),
     ("BRIDGE_MAX_BODY_BYTES", "nan"), ("BRIDGE_RETENTION_DAYS", "nan"), ("BRIDGE_CLAIM_SECONDS", "inf"),
     ("PENDO_TRACK_CONCURRENCY", "1e400"), ("PENDO_REQUESTS_PER_SECOND", "nan")],
)
def test_settings_bad_number_stops_the_command_naming_the_variable(tmp_path: Path, name: str, value: str) -> None:
    done = run_migrate(tmp_path, **{name: value})
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"bridge: {name} must be"), done.stderr
    assert "Traceback" not in done.stderr and SECRET not in done.stderr + done.stdout


def test_settings_good_numbers_run_the_command(tmp_path: Path) -> None:
    done = run_migrate(tmp_path, PORT="8080", BRIDGE_MAX_BODY_BYTES="2048", BRIDGE_RETENTION_DAYS="7.5",
                       BRIDGE_CLAIM_SECONDS="120")
    assert done.returncode == 0, done.stderr
