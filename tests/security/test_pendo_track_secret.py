"""A wrong track secret holds track events once, without flapping, and they resume once one is accepted."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import pytest

from tests.e2e.harness import Service, stripe_event, wait_until
from tests.e2e.payloads import subscription
from tests.fakes.pendo import FakePendo
from tests.security.conftest import TRACK_SECRET
from tests.security.test_pendo_startup import alerts

pytestmark = pytest.mark.e2e

WRONG = "wrong-track-secret-value"
RESUME_CHECK_SECONDS = 15  # bridge.worker: how often a held pause is checked


def created(account: str) -> dict[str, object]:
    return stripe_event("customer.subscription.created", subscription(account=account, sub_id=f"sub_{account}"))


def test_pendo_wrong_track_secret_pauses_once_and_resumes_after_an_accepted_track(
        start_service: Callable[..., Service], pendo: FakePendo) -> None:
    service = start_service(PENDO_TRACK_EVENT_SECRET=WRONG)
    assert service.post(created("first")).status_code == 200
    wait_until(lambda: [r for r in pendo.calls("/data/track") if r.status == 403], timeout=20)
    wait_until(lambda: pendo.account_values("first"), timeout=20)
    assert service.post(created("second")).status_code == 200
    wait_until(lambda: pendo.account_values("second"), timeout=5)  # metadata is not held by the track secret
    time.sleep(RESUME_CHECK_SECONDS + 5)  # at least one more check of the pause, with the secret still wrong
    faults = [a for a in alerts(service) if a["alert"] == "auth_fault"]
    assert len(faults) == 1, faults
    assert "PENDO_TRACK_EVENT_SECRET" in str(faults[0]["message"]) + str(faults[0].get("reason"))
    assert pendo.track_events() == []
    refused = [r for r in pendo.calls("/data/track") if r.status == 403]
    assert len(refused) <= 3  # the first refusal, then one probe per check: no burst of sends each cycle

    service.signal("worker", signal.SIGTERM)  # the admin fixes the secret; the worker restarts with it
    assert service.processes["worker"].wait(timeout=25) == 0
    service.run("worker", name="worker-2", PENDO_TRACK_EVENT_SECRET=TRACK_SECRET)
    wait_until(lambda: {t["accountId"] for t in pendo.track_events()} >= {"first", "second"}, timeout=30)
    text = service.log_text()
    assert "track events resume" in text
    assert WRONG not in text and TRACK_SECRET not in text
    assert len([a for a in alerts(service) if a["alert"] == "auth_fault"]) == 1
