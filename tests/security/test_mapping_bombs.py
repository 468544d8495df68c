"""Hostile mapping files through the real `bridge` command, worker and web processes: refused fast, with file and
line, never a traceback or a process eating the host's memory."""

from __future__ import annotations

import os
import resource
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, SECRET
from tests.e2e.harness import BIN, Service, stripe_event, wait_until
from tests.e2e.payloads import subscription

pytestmark = pytest.mark.e2e

MEMORY_CAP = 2 * 1024**3  # a process of the old code would take the host's memory with it
RULE = """\
rules:
  - name: bomb
    provider: stripe
    events: ["invoice.paid"]
    account: {x: "object.id"}
"""
LAUGHS = RULE + "lookups:\n  l0: &l0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 9))
DEEP = RULE.replace('"object.id"', '"' + "(" * 3000 + "object.id" + ")" * 3000 + '"')


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def bridge(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "BRIDGE_MAPPINGS_DIR": str(ROOT / "mappings"),
            "STRIPE_WEBHOOK_SECRET": SECRET, "DATABASE_URL": f"sqlite:///{tmp_path / 'bridge.db'}"}
    return subprocess.run([str(BIN / "bridge"), *args], env={**base, **env}, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, check=False, preexec_fn=_capped)


def overlay(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "overlay"
    folder.mkdir()
    (folder / "ours.yaml").write_text(text)
    return folder


def test_mapping_bomb_file_is_small() -> None:
    assert len(LAUGHS.encode()) <= 609  # the size of the file found in the wild


@pytest.mark.parametrize(("text", "line", "message"), [
    (LAUGHS, 11, "-: aliases expand to more than 10000 nodes"),
    (DEEP, 5, "rule bomb: account.x: invalid expression"),
])
def test_mapping_check_refuses_a_hostile_file_fast_with_file_and_line(tmp_path: Path, text: str, line: int,
                                                                      message: str) -> None:
    folder = overlay(tmp_path, text)
    started = time.monotonic()
    result = bridge(tmp_path, "check", BRIDGE_MAPPINGS_OVERLAY_DIR=str(folder))
    assert time.monotonic() - started < 20
    assert result.returncode == 1, result.stderr[-2000:]
    assert f"{folder / 'ours.yaml'}:{line}: {message}" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("text", [LAUGHS, DEEP])
def test_mapping_worker_refuses_to_start_on_a_hostile_file(tmp_path: Path, text: str) -> None:
    folder = overlay(tmp_path, text)
    assert bridge(tmp_path, "migrate").returncode == 0
    started = time.monotonic()
    result = bridge(tmp_path, "worker", BRIDGE_MAPPINGS_OVERLAY_DIR=str(folder), PENDO_INTEGRATION_KEY="k",
                    PENDO_BASE_URL="http://127.0.0.1:9")
    assert time.monotonic() - started < 20
    assert result.returncode == 2
    assert f"{folder / 'ours.yaml'}:" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("text", [LAUGHS, DEEP])
def test_mapping_web_stays_up_on_a_hostile_file_and_logs_why_it_is_not_ready(tmp_path: Path, text: str) -> None:
    folder = overlay(tmp_path, text)
    service = Service(tmp_path, f"sqlite:///{tmp_path / 'bridge.db'}", "http://127.0.0.1:9",
                      BRIDGE_MAPPINGS_OVERLAY_DIR=str(folder))
    assert service.release().returncode == 0
    service.run("web")
    try:
        [answer] = wait_until(lambda: _answer(service.url + "/readyz"), timeout=30)
        assert answer.status_code == 503
        assert answer.json()["checks"]["mappings"] == "failed"  # the reason goes to the log, never to anyone
        assert str(folder) not in answer.text
        assert service.post(stripe_event("customer.subscription.created", subscription())).status_code == 200
    finally:
        service.stop()
    assert f"{folder / 'ours.yaml'}:" in service.log_text() and "Traceback" not in service.log_text()


def _answer(url: str) -> list[requests.Response]:
    """[the answer] once the server answers (a list: a 503 response is falsy)."""
    try:
        return [requests.get(url, timeout=5)]
    except requests.RequestException:
        return []
