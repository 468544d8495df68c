"""PostgreSQL restarted under load: web and worker on a PostgreSQL this test runs itself (initdb, pg_ctl).

Webhooks arrive at a steady rate and the sender retries 503s as Stripe does; the database is stopped for about
10 s and started again. Web answers 503 meanwhile, both processes recover by themselves, every acknowledged
event reaches Pendo, nothing is sent twice beyond the re-claims counted as possible duplicates, and the worker
logs the outage once (and its end), not once per failed step.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, func, select, text

from bridge.settings import normalise_database_url
from bridge.store.schema import field_values, track_events
from tests.e2e.harness import Service, free_port, stripe_event, wait_until
from tests.e2e.payloads import subscription
from tests.fakes.pendo import FakePendo

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

RATE_PER_SECOND = 10
SEND_SECONDS = 20.0
OUTAGE_AT, OUTAGE_SECONDS = 4.0, 10.0
RETRY_EVERY = 0.5  # the sender's wait before posting a refused webhook again
GIVE_UP_AFTER = 60.0


def unavailable(reason: str) -> None:
    """In CI this test must run: fail there, skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} and CI=true")
    pytest.skip(reason)


def postgres_bin() -> Path | None:
    """The folder of `initdb` and `pg_ctl`: on PATH, else the newest Debian/Ubuntu install."""
    found = shutil.which("pg_ctl")
    if found and Path(found).resolve().with_name("initdb").exists():
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster in a temporary folder, on its own port, that the test stops and starts."""

    bindir: Path
    root: Path
    user: str | None  # run the server as this user (initdb refuses root)
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, f"{args[0]} failed: {done.stdout}{done.stderr}"

    def init(self) -> None:
        self.run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c full_page_writes=off -c max_connections=50")
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options,
                 "-w", "-t", "30", "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def create_database(self, name: str) -> str:
        engine = create_engine(normalise_database_url(self.url("postgres")), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)


def server_user() -> str | None:
    """None when not root; as root, the `postgres` system user (initdb will not run as root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        unavailable("running as root with no `postgres` user to run the server as")
    return "postgres"


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bindir = postgres_bin()
    if bindir is None:
        unavailable("no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin")
    assert bindir is not None
    user = server_user()
    root = Path(tempfile.mkdtemp(prefix="bridge-pg-"))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    server = PrivatePostgres(bindir, root, user)
    try:
        server.init()
        server.start()
        yield server
    finally:
        if server.running():
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Sender:
    """Posts webhooks like Stripe: a steady rate, each retried on 503 or no answer until it is acknowledged."""

    service: Service
    acknowledged: set[str] = field(default_factory=set)
    answers: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def deliver(self, account: str) -> None:
        event = stripe_event("customer.subscription.created", subscription(account=account, sub_id=f"sub_{account}"))
        deadline = time.monotonic() + GIVE_UP_AFTER
        while time.monotonic() < deadline:
            try:
                status = str(self.service.post(event).status_code)
            except requests.RequestException as exc:
                status = type(exc).__name__
            with self.lock:
                self.answers[status] += 1
                if status == "200":
                    self.acknowledged.add(account)
                    return
            if status not in ("503", "ConnectionError", "ReadTimeout"):
                return  # a refusal Stripe would also retry, but one this test must not see
            time.sleep(RETRY_EVERY)

    def run(self, accounts: list[str], every: float) -> None:
        with ThreadPoolExecutor(16) as pool:
            for account in accounts:
                pool.submit(self.deliver, account)
                time.sleep(every)


def reclaims(url: str) -> int:
    engine = create_engine(normalise_database_url(url))
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.sum(field_values.c.reclaims))).scalar() or 0) + int(
                connection.execute(select(func.sum(track_events.c.reclaims))).scalar() or 0)
    finally:
        engine.dispose()


def test_postgres_restart_under_load_loses_nothing_and_both_processes_recover(
        tmp_path: Path, private_postgres: PrivatePostgres, pendo: FakePendo) -> None:
    url = private_postgres.create_database("bridge")
    service = Service(tmp_path, url, pendo.url).start()
    try:
        pids = {name: process.pid for name, process in service.processes.items()}
        accounts = [f"pg-{n}" for n in range(int(RATE_PER_SECOND * SEND_SECONDS))]
        sender = Sender(service)
        sending = threading.Thread(target=sender.run, args=(accounts, 1 / RATE_PER_SECOND))
        sending.start()
        time.sleep(OUTAGE_AT)
        private_postgres.stop()
        time.sleep(OUTAGE_SECONDS)
        private_postgres.start()
        sending.join(GIVE_UP_AFTER + SEND_SECONDS + 10)
        assert not sending.is_alive()

        assert sender.answers["503"] > 0, sender.answers  # the outage was seen, and answered 503
        assert set(sender.answers) <= {"200", "503", "ConnectionError", "ReadTimeout"}, sender.answers
        assert sender.acknowledged == set(accounts), sender.answers  # every webhook got through in the end
        wait_until(lambda: all(pendo.account_values(a) for a in accounts), timeout=60)
        wait_until(lambda: {t["accountId"] for t in pendo.track_events()} >= set(accounts), timeout=30)
        time.sleep(2)  # anything sent twice would arrive now

        tracks = Counter(t["accountId"] for t in pendo.track_events())
        assert sum(tracks.values()) - len(tracks) <= reclaims(url), tracks.most_common(3)
        assert {name: process.poll() for name, process in service.processes.items()} == dict.fromkeys(pids)
        assert {name: process.pid for name, process in service.processes.items()} == pids  # nobody restarted
        assert requests.get(f"{service.url}/readyz", timeout=5).status_code == 200
        worker = service.logs["worker"].read_text(errors="replace")
        assert worker.count('"level": "ERROR"') == 1, worker[-3000:]  # the outage's first failure, not one per step
        assert sum("Traceback" in line for line in worker.splitlines()) <= 1
        assert "the database answers again" in worker
    finally:
        service.stop()
