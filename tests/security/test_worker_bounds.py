"""Expressions that an event's data makes costly, or that would quote the event in an error, through the real web and
worker processes: the event fails naming its rule and field, the worker goes on, no log line or stored detail quotes
a customer's data."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bridge.settings import normalise_database_url
from tests.e2e.harness import Service, stripe_event, wait_until
from tests.e2e.payloads import invoice
from tests.fakes.pendo import FakePendo

pytestmark = pytest.mark.e2e

MEMORY_KB = 2 * 1024 * 1024  # the worker of old code would take the host's memory with it
SECRET = "Jane Roe, +1 555 0100"
OVERLAY = """\
rules:
  - name: heavy
    provider: stripe
    events: ["invoice.paid"]
    when: "object.metadata.kind == 'heavy'"
    account:
      size: "([[object.description] * 10000] * 10000) | map('string') | map('length') | sum"
  - name: slow
    provider: stripe
    events: ["invoice.paid"]
    when: "object.metadata.kind == 'slow'"
    account:
      matches: "object.numbers | select('in', object.numbers) | list | length"
  - name: leaky
    provider: stripe
    events: ["invoice.paid"]
    when: "object.metadata.kind == 'leaky'"
    account:
      call: "object.metadata.secret()"
      key: "object.metadata[object.metadata.secret] + 1"
      date: "date(object.metadata.secret)"
      method: "object.metadata.secret[object.metadata.secret] + 1"
      ok: "object.metadata.kind"
"""


@pytest.fixture
def fake_pendo() -> Iterator[FakePendo]:
    with FakePendo(integration_key="test-integration-key", track_secret="test-track-secret") as fake:
        yield fake


@pytest.fixture
def service(tmp_path: Path, fake_pendo: FakePendo) -> Iterator[Service]:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "ours.yaml").write_text(OVERLAY)
    service = Service(tmp_path, f"sqlite:///{tmp_path / 'bridge.db'}", fake_pendo.url,
                      BRIDGE_MAPPINGS_OVERLAY_DIR=str(overlay))
    assert service.release().returncode == 0
    service.run("web")
    _run_capped_worker(service)
    try:
        wait_until(service.ready, timeout=30)
        yield service
    finally:
        service.stop()


def _run_capped_worker(service: Service) -> None:
    log = service.tmp_path / "worker.log"
    service.logs["worker"] = log
    service.processes["worker"] = subprocess.Popen(
        ["bash", "-c", f"ulimit -v {MEMORY_KB}; exec bridge worker"], env=service.env, cwd=service.tmp_path,
        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def _invoice_event(kind: str, **fields: Any) -> dict[str, Any]:
    obj = invoice()
    obj["metadata"] = {"kind": kind, "secret": SECRET}
    obj.update(fields)
    return stripe_event("invoice.paid", obj)


def _events(service: Service) -> dict[str, dict[str, Any]]:
    engine = create_engine(normalise_database_url(service.env["DATABASE_URL"]))
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("select event_id, status, detail from events")).mappings().all()
    finally:
        engine.dispose()
    return {row["event_id"]: dict(row) for row in rows}


def _settled(service: Service, ids: list[str]) -> dict[str, dict[str, Any]] | None:
    found = _events(service)
    return found if all(found.get(i, {}).get("status") not in (None, "received") for i in ids) else None


def test_worker_fails_events_over_the_bounds_and_goes_on(service: Service, fake_pendo: FakePendo) -> None:
    heavy = _invoice_event("heavy", description="d" * 100)
    slow = _invoice_event("slow", numbers=list(range(30_000)))  # several seconds of CPU, well over the bound
    normal = _invoice_event("normal")
    for event in (heavy, slow, normal):
        assert service.post(event).status_code == 200
    found = wait_until(lambda: _settled(service, [heavy["id"], slow["id"], normal["id"]]), timeout=60)
    assert found[heavy["id"]]["status"] == "failed"
    assert "rule heavy: field size: a repetition would build more than" in found[heavy["id"]]["detail"]
    assert found[slow["id"]]["status"] == "failed"
    reason = "rule slow: field matches: evaluating the event took more than 1 s of CPU time"
    assert reason in found[slow["id"]]["detail"]
    assert found[normal["id"]]["status"] == "mapped"
    wait_until(lambda: fake_pendo.account_values("acme").get("last_payment_amount") == 98.0)
    assert service.processes["worker"].poll() is None  # still running: no crash, no OOM kill


def test_worker_warnings_and_logs_never_quote_the_event(service: Service) -> None:
    leaky = _invoice_event("leaky")
    assert service.post(leaky).status_code == 200
    found = wait_until(lambda: _settled(service, [leaky["id"]]), timeout=60)
    detail = json.loads(found[leaky["id"]]["detail"])
    assert found[leaky["id"]]["status"] == "mapped"
    assert len([w for w in detail["warnings"] if w.startswith("rule leaky:")]) == 4
    wait_until(lambda: "event mapped with warnings" in service.log_text())
    for where in (json.dumps(detail), service.log_text()):
        assert "Jane Roe" not in where and "555 0100" not in where
