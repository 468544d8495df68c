"""`bridge keys` as a user runs it: the key is printed once, never listed, revoked by name."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_main import run

ENV = {"STRIPE_WEBHOOK_SECRET": "whsec_x"}


def test_cli_keys_create_list_revoke(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate", **ENV).returncode == 0
    created = run(tmp_path, "keys", "create", "app", **ENV)
    assert created.returncode == 0
    key = created.stdout.strip()
    assert key.startswith("brk_") and "only time" in created.stderr
    events = run(tmp_path, "keys", "create", "events", "--scope", "track", **ENV)
    listed = run(tmp_path, "keys", "list", **ENV)
    assert listed.returncode == 0 and "app" in listed.stdout and "events" in listed.stdout
    assert key not in listed.stdout and key[20:] not in listed.stdout and events.stdout.strip() not in listed.stdout
    assert run(tmp_path, "keys", "create", "app", **ENV).returncode == 1  # the name is taken
    assert run(tmp_path, "keys", "revoke", "app", **ENV).returncode == 0
    usage = json.loads(run(tmp_path, "keys", "list", "--json", **ENV).stdout)
    assert usage["app"]["revoked_at"] is not None and usage["events"]["scopes"] == ["track"]
    status = json.loads(run(tmp_path, "status", "--json", **ENV).stdout)
    assert set(status["api_keys"]) == {"app", "events"}
    assert key not in (tmp_path / "bridge.db").read_bytes().decode(errors="replace")


def test_cli_keys_before_migrate_says_what_to_do(tmp_path: Path) -> None:
    result = run(tmp_path, "keys", "create", "app", **ENV)
    assert result.returncode == 2 and "bridge migrate" in result.stderr
