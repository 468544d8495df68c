"""The deploy smoke test: the buildpack's files, and every Procfile role run as a PaaS runs it.

Roles run with `DYNO` set and `DATABASE_URL=postgres://…`, the form a PaaS's PostgreSQL add-on sets.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from packaging.specifiers import SpecifierSet

from tests.conftest import ROOT, _postgres_database
from tests.e2e.harness import BIN, Service, procfile, stripe_event, wait_until
from tests.e2e.payloads import subscription
from tests.fakes.pendo import FakePendo

pytestmark = pytest.mark.e2e

STOP_LIMIT_S = 25.0  # a PaaS sends SIGKILL 30 s after SIGTERM; the docs promise an exit within 25 s
IN_FLIGHT_LATENCY_S = 0.5
IN_FLIGHT_EVENTS = 20  # 20 track events at 0.5 s each, 4 at a time: seconds of work left at the signal
ROLES = ("release", "web", "worker")


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database as a PaaS names it: `postgres://…`."""
    for url in _postgres_database():
        yield url.replace("postgresql+psycopg://", "postgres://")


@pytest.fixture
def deployment(tmp_path: Path, postgres_database: str, pendo: FakePendo) -> Iterator[Service]:
    """A deployment on PostgreSQL whose processes all run in a dyno; stopped after the test."""
    service = Service(tmp_path, postgres_database, pendo.url, DYNO="run.1")
    yield service
    service.stop()


def release(service: Service) -> None:
    result = service.release()
    assert result.returncode == 0, (result.stdout + result.stderr).decode(errors="replace")


def start_roles(service: Service) -> Service:
    """Release, then `web` and `worker`, each with the `DYNO` a PaaS would give it, until ready."""
    release(service)
    service.run("web", DYNO="web.1")
    service.run("worker", DYNO="worker.1")
    wait_until(service.ready, timeout=30)
    wait_until(lambda: logged(service, "worker", "worker started"), timeout=20)
    return service


def start_serve(service: Service) -> subprocess.Popen[bytes]:
    """`bridge serve` (web and worker in one process) with the deployment's environment, on loopback."""
    log = service.tmp_path / "serve.log"
    service.logs["serve"] = log
    process = subprocess.Popen(
        [str(BIN / "bridge"), "serve", "--bind", f"127.0.0.1:{service.port}"],
        env={**service.env, "DYNO": "web.1"}, cwd=service.tmp_path,
        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    service.processes["serve"] = process
    wait_until(service.ready, timeout=30)
    wait_until(lambda: logged(service, "serve", "worker started"), timeout=20)
    return process


def logged(service: Service, name: str, message: str) -> bool:
    """Whether process `name` wrote a JSON log line with this message."""
    for line in service.logs[name].read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # gunicorn's own lines are not JSON
        if isinstance(record, dict) and record.get("message") == message:
            return True
    return False


def post_accounts(service: Service, prefix: str, count: int) -> None:
    for n in range(count):
        event = stripe_event("customer.subscription.created", subscription(account=f"{prefix}-{n}"))
        assert service.post(event).status_code == 200


def wait_in_flight(service: Service, pendo: FakePendo, *names: str) -> None:
    """Wait until Pendo has answered a first delivery while more is left to send.

    Fails at once, with the logs, if one of `names` has exited.
    """
    def check() -> bool:
        exited = {name: service.processes[name].poll() for name in names}
        assert all(code is None for code in exited.values()), (exited, service.log_text()[-4000:])
        return bool(pendo.calls("/api/v1/metadata") or pendo.calls("/data/track"))

    wait_until(check, timeout=20)
    assert len(pendo.track_events()) < IN_FLIGHT_EVENTS, "everything was delivered before the signal"


def assert_stops_in_time(service: Service, *names: str) -> None:
    """SIGTERM to each process group; every process exits 0 within the limit, counted from the signal."""
    started = time.monotonic()
    for name in names:
        service.signal(name, signal.SIGTERM)
    for name in names:
        left = max(0.1, STOP_LIMIT_S - (time.monotonic() - started))
        assert service.processes[name].wait(timeout=left) == 0, service.log_text()[-4000:]
    assert time.monotonic() - started < STOP_LIMIT_S


def keep_posting(service: Service, answers: list[int], limit: int = 200) -> None:
    """Post webhooks until the web process stops answering (bounded by `limit` and 20 s)."""
    deadline = time.monotonic() + 20
    for n in range(limit):
        if time.monotonic() > deadline:
            return
        event = stripe_event("customer.subscription.updated", subscription(account=f"late-{n}"))
        try:
            answers.append(service.post(event).status_code)
        except requests.RequestException:
            return  # the listener closed: the web process is shutting down


def test_buildpack_requirements_install_the_project() -> None:
    lines = [line.split("#", 1)[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert "." in lines


def test_buildpack_python_version_satisfies_requires_python() -> None:
    version = (ROOT / ".python-version").read_text().strip()
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert version and SpecifierSet(requires).contains(version), (version, requires)


def test_procfile_has_exactly_release_web_worker() -> None:
    lines = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()]
    assert sorted(line.split(":", 1)[0] for line in lines) == sorted(ROLES)
    assert set(procfile()) == set(ROLES)


def test_release_runs_twice_on_postgres(deployment: Service) -> None:
    release(deployment)
    release(deployment)


def test_every_role_starts_in_a_dyno_on_postgres(deployment: Service) -> None:
    start_roles(deployment)
    for path in ("/healthz", "/readyz"):
        assert requests.get(deployment.url + path, timeout=5).status_code == 200
    assert all(deployment.processes[name].poll() is None for name in ("web", "worker"))


def test_serve_delivers_a_signed_event(deployment: Service, pendo: FakePendo) -> None:
    start_serve(deployment)
    assert requests.get(deployment.url + "/healthz", timeout=5).status_code == 200
    post_accounts(deployment, "serve", 1)
    wait_until(lambda: pendo.account_values("serve-0"), timeout=30)
    wait_until(lambda: [t for t in pendo.track_events() if t.get("accountId") == "serve-0"], timeout=15)


def test_sigterm_stops_web_and_worker_within_25_seconds(deployment: Service, pendo: FakePendo) -> None:
    start_roles(deployment)
    pendo.latency = IN_FLIGHT_LATENCY_S
    post_accounts(deployment, "drain", IN_FLIGHT_EVENTS)
    wait_in_flight(deployment, pendo, "web", "worker")
    answers: list[int] = []
    poster = threading.Thread(target=keep_posting, args=(deployment, answers), daemon=True)
    poster.start()
    wait_until(lambda: answers, timeout=10)  # the web process is answering webhooks when the signal comes
    assert_stops_in_time(deployment, "web", "worker")
    poster.join(timeout=15)
    assert answers and all(status == 200 for status in answers), answers
    assert logged(deployment, "worker", "worker stopped")


def test_sigterm_stops_serve_within_25_seconds(deployment: Service, pendo: FakePendo) -> None:
    start_serve(deployment)
    pendo.latency = IN_FLIGHT_LATENCY_S
    post_accounts(deployment, "drain", IN_FLIGHT_EVENTS)
    wait_in_flight(deployment, pendo, "serve")
    assert_stops_in_time(deployment, "serve")
    assert logged(deployment, "serve", "worker stopped")


def test_web_in_a_dyno_refuses_sqlite(tmp_path: Path, pendo: FakePendo) -> None:
    service = Service(tmp_path, f"sqlite:///{tmp_path / 'bridge.db'}", pendo.url)
    try:
        process = service.run("web", DYNO="web.1")
        assert process.wait(timeout=30) != 0
    finally:
        service.stop()
    output = service.log_text()
    assert "PostgreSQL" in output and "DATABASE_URL" in output, output[-4000:]
