"""Bad days: Pendo failing, refusing the key, not knowing an account; a worker killed or stopped."""

from __future__ import annotations

import json
import signal
import time

from tests.e2e.harness import Service, stripe_event, wait_until
from tests.e2e.payloads import subscription
from tests.fakes.pendo import FakePendo


def accounts(n: int, prefix: str = "acct") -> list[dict[str, object]]:
    return [stripe_event("customer.subscription.created", subscription(account=f"{prefix}-{i}"))
            for i in range(n)]


def test_eight_503s_lose_nothing(service: Service, pendo: FakePendo) -> None:
    pendo.fail_next(8, status=503, path_prefix="/api/v1/metadata")
    events = accounts(3)
    for event in events:
        assert service.post(event).status_code == 200
    wait_until(lambda: all(pendo.account_values(f"acct-{i}") for i in range(3)), timeout=60)
    failures = [r for r in pendo.requests if r.status == 503]
    assert len(failures) == 8


def test_429_with_retry_after_is_waited_out(service: Service, pendo: FakePendo) -> None:
    pendo.fail_next(1, status=429, retry_after=2, path_prefix="/api/v1/metadata")
    assert service.post(accounts(1)[0]).status_code == 200
    wait_until(lambda: pendo.account_values("acct-0"), timeout=30)
    calls = [r for r in pendo.requests if r.path.startswith("/api/v1/metadata")]
    assert calls[0].status == 429 and calls[1].time - calls[0].time >= 1.9


def test_auth_refusal_holds_everything_until_the_key_works(service: Service, pendo: FakePendo) -> None:
    pendo.set_auth_ok(False)
    assert service.post(accounts(1)[0]).status_code == 200
    # Whichever Pendo refuses first (a track event, the metadata or the key's check), all sending pauses before
    # the key works again.
    wait_until(lambda: "all sending is paused" in service.log_text(), timeout=30)
    time.sleep(1)
    assert pendo.account_values("acct-0") == {}
    pendo.set_auth_ok(True)
    wait_until(lambda: pendo.account_values("acct-0"), timeout=40)
    # A track event refused first holds the track events on their own: they resume at the next probe, up to
    # RESUME_CHECK_SECONDS (15 s) after the metadata.
    wait_until(pendo.track_events, timeout=25)
    assert service.log_text().count("all sending is paused") == 1


def test_account_unknown_to_pendo_waits_then_arrives(service: Service, pendo: FakePendo) -> None:
    pendo.know_only("account", set())
    assert service.post(accounts(1, "newco")[0]).status_code == 200
    wait_until(lambda: any("newco-0" in json.dumps(r.json) for r in pendo.requests if r.json), timeout=20)
    time.sleep(0.5)
    assert pendo.account_values("newco-0") == {}
    pendo.add_known_account("newco-0")
    wait_until(lambda: pendo.account_values("newco-0"), timeout=30)


def test_worker_killed_mid_flight_loses_nothing(service: Service, pendo: FakePendo) -> None:
    pendo.latency = 0.3
    for event in accounts(20, "burst"):
        assert service.post(event).status_code == 200
    wait_until(lambda: pendo.requests, timeout=20)
    service.signal("worker", signal.SIGKILL)
    service.processes["worker"].wait(timeout=10)
    pendo.latency = 0.0
    service.run("worker", name="worker-2")
    wait_until(lambda: all(pendo.account_values(f"burst-{i}") for i in range(20)), timeout=60)
    wait_until(lambda: {t["accountId"] for t in pendo.track_events()} >= {f"burst-{i}" for i in range(20)},
               timeout=30)


def test_sigterm_drains_within_25_seconds(service: Service, pendo: FakePendo) -> None:
    pendo.latency = 0.5
    for event in accounts(5, "drain"):
        assert service.post(event).status_code == 200
    wait_until(lambda: pendo.requests, timeout=20)
    started = time.monotonic()
    service.signal("worker", signal.SIGTERM)
    service.signal("web", signal.SIGTERM)
    assert service.processes["worker"].wait(timeout=25) == 0
    assert service.processes["web"].wait(timeout=25) == 0
    assert time.monotonic() - started < 25
