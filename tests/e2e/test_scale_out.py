"""Scale-out: two web and two worker processes on PostgreSQL, one request budget, a worker killed mid-burst."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from bridge.settings import normalise_database_url
from bridge.store.schema import field_values, track_events
from tests.conftest import _postgres_database
from tests.e2e.harness import Service, free_port, stripe_event, wait_until
from tests.e2e.payloads import subscription
from tests.fakes.pendo import FakePendo

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres_env() -> Iterator[str]:
    for url in _postgres_database():
        yield url.replace("postgresql+psycopg://", "postgres://")


def deployment(tmp_path: Path, database: str, pendo: FakePendo, **env: str) -> Service:
    """Web and worker, then a second web on its own port and a second worker."""
    service = Service(tmp_path, database, pendo.url, **env).start()
    second_port = free_port()
    service.run("web", name="web-2", PORT=str(second_port))
    service.run("worker", name="worker-2")
    service.second_url = f"http://127.0.0.1:{second_port}"  # type: ignore[attr-defined]
    wait_until(lambda: service.ready(service.second_url), timeout=30)  # type: ignore[attr-defined]
    return service


def burst(service: Service, accounts: int, versions: int, start: int) -> list[dict[str, Any]]:
    """Per account a created event, then `versions` updates (seats = version), posted to both webs at once."""
    sent = []
    for v in range(versions + 1):
        for a in range(accounts):
            kind = "customer.subscription.created" if v == 0 else "customer.subscription.updated"
            sent.append(stripe_event(kind, subscription(account=f"acct-{a}", quantity=v + 1, sub_id=f"sub_{a}"),
                                     created=start + v))
    second = service.second_url  # type: ignore[attr-defined]

    def post(index_event: tuple[int, dict[str, Any]]) -> int:
        index, event = index_event
        return service.post(event, secret=service.env["STRIPE_WEBHOOK_SECRET"],
                            url=second if index % 2 else None).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(post, enumerate(sent)))
    assert codes == [200] * len(sent)
    return sent


def newest_everywhere(pendo: FakePendo, accounts: int, seats: int) -> bool:
    return all(pendo.account_values(f"acct-{a}").get("seats") == seats for a in range(accounts))


def reclaims(service: Service) -> int:
    engine = create_engine(normalise_database_url(service.env["DATABASE_URL"]))
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.sum(field_values.c.reclaims))).scalar() or 0) + int(
                connection.execute(select(func.sum(track_events.c.reclaims))).scalar() or 0)
    finally:
        engine.dispose()


def test_two_webs_two_workers_send_every_row_exactly_once(tmp_path: Path, postgres_env: str,
                                                          pendo: FakePendo) -> None:
    # A lease longer than the test: with no crash, no claim may ever be taken over.
    service = deployment(tmp_path, postgres_env, pendo, BRIDGE_CLAIM_SECONDS="120")
    try:
        burst(service, accounts=30, versions=3, start=int(time.time()) - 100)
        wait_until(lambda: newest_everywhere(pendo, 30, 4), timeout=60)
        wait_until(lambda: len(pendo.track_events()) >= 30, timeout=30)
        time.sleep(2)  # anything sent twice would arrive now
        tracks = Counter(t["accountId"] for t in pendo.track_events())
        assert tracks == Counter({f"acct-{a}": 1 for a in range(30)})
        versions = Counter((row["accountId"], row["values"].get("seats")) for row in pendo.metadata_rows("account")
                           if "seats" in row["values"])
        assert versions and max(versions.values()) == 1  # each (account, value version) reached Pendo once
        assert reclaims(service) == 0
        assert "Traceback" not in service.log_text()
    finally:
        service.stop()


def test_kill_9_of_one_worker_mid_burst_loses_nothing(tmp_path: Path, postgres_env: str, pendo: FakePendo) -> None:
    service = deployment(tmp_path, postgres_env, pendo)
    try:
        pendo.latency = 0.2
        burst(service, accounts=30, versions=2, start=int(time.time()) - 100)
        wait_until(lambda: len(pendo.requests) > 3, timeout=20)
        service.signal("worker", signal.SIGKILL)
        service.processes["worker"].wait(timeout=10)
        pendo.latency = 0.0
        wait_until(lambda: newest_everywhere(pendo, 30, 3), timeout=60)
        wait_until(lambda: {t["accountId"] for t in pendo.track_events()} >= {f"acct-{a}" for a in range(30)},
                   timeout=30)
        tracks = Counter(t["accountId"] for t in pendo.track_events())
        assert sum(tracks.values()) - 30 <= reclaims(service)  # every re-send is counted as possible
    finally:
        service.stop()


def test_two_workers_keep_one_budget_and_wait_out_retry_after(tmp_path: Path, postgres_env: str,
                                                              pendo: FakePendo) -> None:
    service = deployment(tmp_path, postgres_env, pendo, PENDO_REQUESTS_PER_SECOND="5")
    try:
        pendo.fail_next(1, status=429, retry_after=3, path_prefix="/data/track")
        burst(service, accounts=30, versions=0, start=int(time.time()) - 100)
        wait_until(lambda: len(pendo.track_events()) >= 30, timeout=60)
        calls = [r for r in pendo.requests if r.path.startswith(("/data/", "/api/v1/metadata"))]
        per_second = Counter(int(r.time) for r in calls)
        assert max(per_second.values()) <= 6  # 5/s for the deployment (+1 at a second's edge), not 5/s each
        tracks = [r for r in calls if r.path == "/data/track"]
        refused = next(r for r in tracks if r.status == 429)
        after = [r.time - refused.time for r in tracks if r.time > refused.time]
        assert after and min(after) >= 2.9  # nobody sent a track event while Retry-After lasted
    finally:
        service.stop()
