"""`bridge purge --customer` against the real web and worker processes: the customer's data is gone from every table,
and the worker goes on delivering every other customer's track events and values."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from bridge.settings import normalise_database_url
from bridge.store.schema import metadata
from tests.e2e.harness import BIN, Service, stripe_event, wait_until
from tests.e2e.payloads import subscription
from tests.fakes.pendo import FakePendo

pytestmark = pytest.mark.e2e

PII = ("Jane Roe", "555 0100", "jane@roe.example")
CONTACT = """\
rules:
  - name: contact
    provider: stripe
    events: ["customer.created", "customer.updated"]
    account: {contact_name: "object.name", contact_phone: "object.phone"}
"""


@pytest.fixture
def fake_pendo() -> Iterator[FakePendo]:
    with FakePendo(integration_key="test-integration-key", track_secret="test-track-secret") as fake:
        yield fake


@pytest.fixture
def service(tmp_path: Path, fake_pendo: FakePendo) -> Iterator[Service]:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "contact.yaml").write_text(CONTACT)
    service = Service(tmp_path, f"sqlite:///{tmp_path / 'bridge.db'}", fake_pendo.url,
                      BRIDGE_MAPPINGS_OVERLAY_DIR=str(overlay))
    fake_pendo.set_auth_ok(False)  # Pendo refuses the key for now: everything waits in the outbox
    try:
        yield service.start()
    finally:
        service.stop()


def customer_events(customer_id: str, account: str, name: str, phone: str, email: str) -> list[dict[str, Any]]:
    customer = {"id": customer_id, "object": "customer", "name": name, "phone": phone, "email": email,
                "metadata": {"pendo_account_id": account, "pendo_visitor_id": email}}
    sub = subscription(account=account, sub_id=f"sub_{account}", customer=customer_id)
    sub["metadata"] = {"pendo_account_id": account, "pendo_visitor_id": email, "contact": name}
    return [stripe_event("customer.created", customer), stripe_event("customer.subscription.created", sub)]


def every_row(service: Service) -> str:
    engine = create_engine(normalise_database_url(service.env["DATABASE_URL"]))
    try:
        with engine.connect() as connection:
            return json.dumps({table.name: [dict(row) for row in connection.execute(select(table)).mappings()]
                               for table in metadata.sorted_tables}, default=str)
    finally:
        engine.dispose()


def mapped(service: Service, count: int) -> bool:
    rows = json.loads(every_row(service))["events"]
    return len(rows) == count and all(row["status"] == "mapped" for row in rows)


def purge(service: Service, customer_id: str) -> subprocess.CompletedProcess[str]:
    env = {**service.env, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(BIN / "bridge"), "purge", "--customer", customer_id], env=env, cwd=service.tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)


def two_customers_waiting(service: Service) -> None:
    """Jane's and Max's events mapped while Pendo refuses the key: their values and track events wait."""
    posted = customer_events("cus_jane", "roe", "Jane Roe", "+1 555 0100", PII[2]) + customer_events(
        "cus_max", "mux", "Max Mux", "+1 555 0199", "max@mux.example")
    for event in posted:
        assert service.post(event).status_code == 200
    wait_until(lambda: mapped(service, len(posted)), timeout=30)
    stored = every_row(service)
    assert all(marker in stored for marker in PII)
    result = purge(service, "cus_jane")
    assert result.returncode == 0, result.stderr
    assert "2 events" in result.stdout


def test_purge_with_pending_track_events_leaves_the_worker_delivering_the_others(service: Service,
                                                                               fake_pendo: FakePendo) -> None:
    two_customers_waiting(service)
    fake_pendo.set_auth_ok(True)  # the worker finds the key valid again within 15 s and sends what waits
    wait_until(lambda: fake_pendo.account_values("mux").get("contact_name") == "Max Mux", timeout=45)
    tracks = wait_until(lambda: fake_pendo.track_events(), timeout=30)
    assert [(t["event"], t["accountId"]) for t in tracks] == [("Subscription Created", "mux")]
    assert fake_pendo.account_values("roe") == {}
    assert service.processes["worker"].poll() is None  # no crash, no restart loop
    assert "Traceback" not in service.log_text()


def test_purge_leaves_nothing_of_the_customer_in_any_table(service: Service) -> None:
    two_customers_waiting(service)
    after = every_row(service)
    assert [marker for marker in PII if marker in after] == []
    assert "Max Mux" in after and "cus_jane" in after  # the other customer's data, and the ids kept
