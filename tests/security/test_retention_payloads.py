"""Retention through the real processes: unresolved and failed events' payloads are deleted BRIDGE_RETENTION_DAYS
after they became final (400 simulated days at 30-day retention), and `bridge status` shows the rule."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bridge.settings import normalise_database_url
from tests.e2e.harness import BIN, Service, stripe_event, wait_until
from tests.e2e.payloads import invoice, subscription
from tests.fakes.pendo import FakePendo

pytestmark = pytest.mark.e2e

DAYS_AGO = 400 * 86400


@pytest.fixture
def fake_pendo() -> Iterator[FakePendo]:
    with FakePendo(integration_key="test-integration-key", track_secret="test-track-secret") as fake:
        yield fake


@pytest.fixture
def service(tmp_path: Path, fake_pendo: FakePendo) -> Iterator[Service]:
    service = Service(tmp_path, f"sqlite:///{tmp_path / 'bridge.db'}", fake_pendo.url, BRIDGE_RETENTION_DAYS="30")
    try:
        yield service.start()
    finally:
        service.stop()


def sql(service: Service, statement: str, **values: Any) -> list[dict[str, Any]]:
    engine = create_engine(normalise_database_url(service.env["DATABASE_URL"]))
    try:
        with engine.begin() as connection:
            result = connection.execute(text(statement), values)
            return [dict(row) for row in result.mappings()] if result.returns_rows else []
    finally:
        engine.dispose()


def stored(service: Service) -> dict[str, tuple[str, bool]]:
    rows = sql(service, "select event_id, status, payload is not null as kept from events")
    return {row["event_id"]: (row["status"], bool(row["kept"])) for row in rows}


def status(service: Service) -> dict[str, Any]:
    env = {**service.env, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run([str(BIN / "bridge"), "status", "--json"], env=env, cwd=service.tmp_path,
                            capture_output=True, text=True, timeout=60, check=True)
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def test_retention_deletes_unresolved_and_failed_payloads(service: Service) -> None:
    nobody = subscription(sub_id="sub_nobody")
    nobody["metadata"] = {}  # no Pendo account: unresolved
    unresolved = stripe_event("customer.subscription.created", nobody)
    failed = stripe_event("invoice.paid", invoice())
    for event in (unresolved, failed):
        assert service.post(event).status_code == 200
    wait_until(lambda: stored(service).get(unresolved["id"]) == ("unresolved", True)
               and stored(service).get(failed["id"]) == ("mapped", True), timeout=30)
    service.signal("worker", signal.SIGTERM)
    service.processes["worker"].wait(timeout=30)
    sql(service, "update events set status = 'failed' where event_id = :id", id=failed["id"])  # as if mapping failed
    sql(service, "update events set processed_at = processed_at - :ago, received_at = received_at - :ago",
        ago=DAYS_AGO)  # 400 simulated days later
    before = status(service).get("retention")
    service.run("worker", name="worker-again")  # its first pass applies retention
    wait_until(lambda: stored(service) == {unresolved["id"]: ("expired", False), failed["id"]: ("failed", False)},
               timeout=30)
    assert before is not None and before["stored_payloads"] == {"failed": 1, "unresolved": 1}
    assert before["oldest_final_payload_days"] >= 400
    retention = status(service)["retention"]
    assert retention["days"] == 30.0 and retention["stored_payloads"] == {}
    assert "unresolved and failed" in retention["deletes"]
