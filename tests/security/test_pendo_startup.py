"""Pendo out of reach when the worker starts is a network fault to wait out, not refused credentials."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.e2e.harness import Service, free_port, stripe_event, wait_until
from tests.e2e.payloads import subscription
from tests.fakes.pendo import FakePendo
from tests.security.conftest import INTEGRATION_KEY, TRACK_SECRET

pytestmark = pytest.mark.e2e


def alerts(service: Service) -> list[dict[str, object]]:
    """The alert lines (JSON log lines with an `alert` field) the processes wrote."""
    found = []
    for line in service.log_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "alert" in record:
            found.append(record)
    return found


def test_pendo_unreachable_at_start_is_not_an_auth_fault_and_delivery_follows(
        start_service: Callable[..., Service]) -> None:
    port = free_port()  # nothing listens here yet: connections are refused
    service = start_service(pendo_url=f"http://127.0.0.1:{port}")
    wait_until(lambda: "worker started" in service.log_text(), timeout=20)
    assert service.post(stripe_event("customer.subscription.created", subscription(account="early"))).status_code == 200
    wait_until(lambda: "could not be reached" in service.log_text(), timeout=20)
    with FakePendo(integration_key=INTEGRATION_KEY, track_secret=TRACK_SECRET, port=port) as pendo:
        wait_until(lambda: pendo.account_values("early"), timeout=30)
        wait_until(pendo.track_events, timeout=30)
    text = service.log_text()
    assert [a for a in alerts(service) if a["alert"] == "auth_fault"] == []
    assert "refused the credentials" not in text and "paused" not in text
