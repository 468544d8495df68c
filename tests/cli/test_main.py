"""The `bridge` command as a user runs it: exit codes and messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

BRIDGE = str(Path(sys.executable).parent / "bridge")


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "BRIDGE_MAPPINGS_DIR": str(ROOT / "mappings")}
    return subprocess.run([BRIDGE, *args], env={**base, **env}, cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False)


def test_cli_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    result = run(tmp_path, "migrate")
    assert result.returncode == 2
    assert "STRIPE_WEBHOOK_SECRET" in result.stderr


def test_cli_refuses_sqlite_on_a_dyno(tmp_path: Path) -> None:
    result = run(tmp_path, "worker", STRIPE_WEBHOOK_SECRET="whsec_x", DYNO="worker.1")
    assert result.returncode == 2
    assert "PostgreSQL" in result.stderr


def test_cli_worker_refuses_a_reconcile_schedule_without_a_stripe_key(tmp_path: Path) -> None:
    result = run(tmp_path, "worker", STRIPE_WEBHOOK_SECRET="whsec_x", BRIDGE_RECONCILE_HOURS="24")
    assert result.returncode == 2
    assert "STRIPE_API_KEY" in result.stderr and "BRIDGE_RECONCILE_HOURS" in result.stderr


def test_cli_migrate_twice_then_status(tmp_path: Path) -> None:
    for _ in range(2):
        assert run(tmp_path, "migrate", STRIPE_WEBHOOK_SECRET="whsec_x").returncode == 0
    assert (tmp_path / "bridge.db").exists()
    status = run(tmp_path, "status", "--json", STRIPE_WEBHOOK_SECRET="whsec_x")
    assert status.returncode == 0
    assert json.loads(status.stdout)["events"] == {}


def test_cli_purge_reports_count(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate", STRIPE_WEBHOOK_SECRET="whsec_x").returncode == 0
    result = run(tmp_path, "purge", "--customer", "cus_404", STRIPE_WEBHOOK_SECRET="whsec_x")
    assert result.returncode == 0 and "0 events" in result.stdout
