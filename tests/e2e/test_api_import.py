"""Your own events and attributes as a new user sends them: `bridge keys`, curl, `bridge import`, a fake Pendo.

The Procfile's real processes (gunicorn web, bridge worker) on SQLite and PostgreSQL; the commands run as a user
runs them, with the service's environment.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import BIN, Service, wait_until
from tests.fakes.pendo import FakePendo

VALUES_PATH = "/api/v1/metadata/account/custom/value"


def bridge(service: Service, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "bridge"), *args], env=service.env, cwd=service.tmp_path, capture_output=True,
                          text=True, timeout=300, check=False)


def curl(url: str, key: str, body: Any) -> tuple[int, Any]:
    """POST as the docs show it: curl with a bearer key and a JSON body."""
    done = subprocess.run(["curl", "-sS", "-X", "POST", url, "-H", f"Authorization: Bearer {key}",
                           "-H", "Content-Type: application/json", "-d", json.dumps(body), "-w", "\n%{http_code}"],
                          capture_output=True, text=True, timeout=30, check=True)
    text, status = done.stdout.rsplit("\n", 1)
    return int(status), json.loads(text)


def value_calls(pendo: FakePendo) -> list[Any]:
    return [r for r in pendo.calls(VALUES_PATH) if r.status == 200]


def accounts_csv(path: Path, count: int, changed: dict[int, int] | None = None) -> Path:
    changed = changed or {}
    lines = ["accountId,plan,seats,active"]
    lines += [f"acct-{n},{'pro' if n % 3 else 'team'},{changed.get(n, n % 50 + 1)},{'yes' if n % 2 else 'no'}"
              for n in range(count)]
    path.write_text("\n".join(lines) + "\n")
    return path


def imported(service: Service, path: Path) -> dict[str, Any]:
    done = bridge(service, "import", "accounts", str(path))
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_api_new_user_sends_an_event_and_an_account_update_with_curl(service: Service, pendo: FakePendo) -> None:
    created = bridge(service, "keys", "create", "app")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    status, answer = curl(f"{service.url}/v1/track", key, {
        "event": "Report Exported", "visitorId": "user-42", "accountId": "acme",
        "properties": {"format": "csv", "rows": 1200}, "messageId": "export-9f2c"})
    assert (status, answer) == (202, {"accepted": 1, "duplicates": 0})
    status, answer = curl(f"{service.url}/v1/metadata/accounts", key,
                          [{"accountId": "acme", "values": {"seat_count": 12, "plan_tier": "enterprise"}}])
    assert (status, answer) == (202, {"accepted": 1, "duplicates": 0})

    [track] = wait_until(pendo.track_events)
    assert (track["event"], track["visitorId"], track["accountId"]) == ("Report Exported", "user-42", "acme")
    assert track["properties"] == {"format": "csv", "rows": 1200}
    assert abs(track["timestamp"] - time.time() * 1000) < 60_000
    wait_until(lambda: pendo.account_values("acme") == {"seat_count": 12, "plan_tier": "enterprise"})

    assert curl(f"{service.url}/v1/track", "brk_0123456789ab_not-a-key", {"event": "x", "visitorId": "u"})[0] == 401
    status, answer = curl(f"{service.url}/v1/track", key, {"event": "Report Exported", "visitorID": "user-42"})
    assert status == 400
    assert {p["path"] for p in answer["problems"]} == {"$.visitorId", "$.visitorID"}

    report = json.loads(bridge(service, "status", "--json").stdout)
    wait_until(lambda: json.loads(bridge(service, "status", "--json").stdout)["sources"]["app"] == {
        "metadata": {"delivered": 2}, "track": {"delivered": 1}}, timeout=10)
    report = json.loads(bridge(service, "status", "--json").stdout)
    assert report["api_keys"]["app"]["accepted"] == 2 and report["api_keys"]["app"]["rejected"] == 1
    assert key not in service.log_text()


def test_import_10000_accounts_then_again_then_10_changed(service: Service, pendo: FakePendo, tmp_path: Path) -> None:
    pendo.add_field("account", "plan", "string")
    pendo.add_field("account", "seats", "number")
    pendo.add_field("account", "active", "boolean")
    path = accounts_csv(tmp_path / "accounts.csv", 10_000)

    first = imported(service, path)
    assert (first["rows"], first["changed_entities"]) == (10_000, 10_000)
    wait_until(lambda: len(pendo.metadata_rows("account")) == 10_000, timeout=120)
    assert pendo.account_values("acct-7") == {"plan": "pro", "seats": 8, "active": True}
    assert len(value_calls(pendo)) <= 20

    before = len(pendo.requests)
    again = imported(service, path)
    assert (again["rows"], again["changed_entities"]) == (10_000, 0)
    time.sleep(3)  # well past the delivery's linger
    assert len(pendo.requests) == before  # not a single call: no values, and Pendo's schema came from the cache

    changed = {n: 500 + n for n in range(100, 1100, 100)}
    third = imported(service, accounts_csv(path, 10_000, changed))
    assert third["changed_entities"] == 10
    wait_until(lambda: len(value_calls(pendo)) > 0 and len(pendo.requests) > before)
    time.sleep(2)
    new_calls = pendo.requests[before:]
    assert len(new_calls) == 1 and new_calls[0].path == VALUES_PATH
    assert {row["accountId"]: row["values"] for row in new_calls[0].json} == {
        f"acct-{n}": {"seats": seats} for n, seats in changed.items()}


def test_import_with_pendo_answering_503_loses_nothing(service: Service, pendo: FakePendo, tmp_path: Path) -> None:
    pendo.add_field("account", "seats", "number")
    pendo.fail_next(6, status=503, path_prefix=VALUES_PATH)
    report = imported(service, accounts_csv(tmp_path / "accounts.csv", 2_000))
    assert report["changed_entities"] == 2_000
    wait_until(lambda: all(pendo.account_values(f"acct-{n}").get("seats") for n in range(2_000)), timeout=120)
    assert len([r for r in pendo.calls(VALUES_PATH) if r.status == 503]) == 6
    status = json.loads(bridge(service, "status", "--json").stdout)
    wait_until(lambda: json.loads(bridge(service, "status", "--json").stdout)["sources"]["import:accounts"]
               == {"metadata": {"delivered": 6_000}, "track": {}}, timeout=30)
    assert status["imports"]["import:accounts"]["last_run"]["rows"] == 2_000
