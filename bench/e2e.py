"""End-to-end benchmark: steady Stripe webhooks through gunicorn, `bridge worker`s and a fake Pendo.

In a fresh temporary directory: a database (a SQLite file, or with `--database-url` a fresh database on that
PostgreSQL server, dropped afterwards), `bridge migrate`, the fake Pendo (`python -m tests.fakes.pendo --latency`),
the Procfile's `web:` line (gunicorn on loopback, a free port) and `--workers` `bridge worker` processes. Then
`customer.subscription.updated` events over `--accounts` accounts (each updated several times) are posted at `--rate`
per second for `--seconds`, an open loop: request i is planned at start + i / rate. Every second it samples the events
stored and not yet mapped, the lag (as `bridge status` computes it), the metadata values not yet delivered, the fake
Pendo's request count and the workers' RSS; after the sending it samples on until everything is delivered, then asks
the fake Pendo for every account's seat count and when it arrived. See bench/README.md.

    .venv/bin/python bench/e2e.py                              # 300 events/s for 60 s over 2,000 accounts
    .venv/bin/python bench/e2e.py --seconds 10 --rate 100      # a quick check (below the target's load)
    .venv/bin/python bench/e2e.py --database-url postgresql://postgres@127.0.0.1:5432/test --workers 2

Exit codes: 0 every target met, 1 a target missed, 2 the benchmark could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import ingest
import requests
import stripe
from ingest import BenchError, Job, say
from processes import rss_kib, stop
from sqlalchemy import Engine, create_engine, make_url, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: import bridge from this checkout

from bridge.ops.metrics import lag_seconds  # noqa: E402
from bridge.pendo import outbox as ob  # noqa: E402
from bridge.pendo.budget import Budget  # noqa: E402
from bridge.settings import normalise_database_url  # noqa: E402
from bridge.store import store as st  # noqa: E402
from tests.e2e.harness import stripe_event  # noqa: E402
from tests.e2e.payloads import customer, subscription  # noqa: E402

KEY, TRACK = "bench-integration-key", "bench-track-secret"
TARGET_RATE, TARGET_SECONDS = 300.0, 60.0
RATE_SHARE = 0.98  # the achieved rate includes the last answer's latency, so it is a hair under the plan
LAG_MAX_S = 5.0 + 1.0  # plus BRIDGE_METADATA_LINGER_SECONDS, left at its default
LAG_GROWTH_S = 1.0  # the last third's mean lag may exceed the first third's by this much (sampling noise)
ACK_P99_MS = 50.0
LATEST_WITHIN_S = 30.0  # every account's newest value in Pendo this long after the last webhook
MAX_SECONDS = 240.0  # every body is signed just before the run; Stripe signatures are refused at 300 s
BOOT_LIMIT_S = 30.0


@dataclass
class Sample:
    """One second of the run, read from the database, the fake Pendo and /proc."""

    t: float
    stored: int
    unmapped: int
    lag_s: float
    values_undelivered: int
    tracks_undelivered: int
    pendo_calls: int
    worker_rss_kib: int  # all workers together
    pendo_tracks: int = 0  # track events the fake Pendo accepted so far


class FakePendo:
    """The fake Pendo process; `calls` leaves out the worker's start-up key check (the fake ignores its polls)."""

    def __init__(self, latency: float):
        self.process = subprocess.Popen([sys.executable, "-m", "tests.fakes.pendo", "--latency", str(latency),
                                         "--integration-key", KEY, "--track-secret", TRACK],
                                        cwd=ROOT, stdout=subprocess.PIPE, text=True)
        self.url = self.process.stdout.readline().strip() if self.process.stdout else ""
        self.before, self.session = 0, ingest.client_session()
        if not self.url.startswith("http://"):
            stop(self.process)
            raise BenchError("the fake Pendo did not print its URL")

    def state(self) -> dict[str, Any]:
        return dict(self.session.get(f"{self.url}/_fake/state", timeout=10).json())

    def calls(self, state: dict[str, Any] | None = None) -> int:
        return int((state or self.state())["requests"]) - self.before

    def field(self, name: str) -> dict[str, dict[str, Any]]:
        """Each account's value of field `name` in the fake Pendo, and the time it arrived."""
        return dict(self.session.get(f"{self.url}/_fake/field", params={"kind": "account", "name": name},
                                     timeout=60).json())


@dataclass
class Deployment:
    """The running service: its web server, its workers, the fake Pendo, and an engine to sample the database."""

    web: ingest.Server
    workers: list[subprocess.Popen[bytes]]
    pendo: FakePendo
    engine: Engine
    database: str  # "sqlite" or "postgresql"


def signed_jobs(count: int, accounts: int, secret: str) -> list[Job]:
    """Event n updates account n % accounts to one more seat than its last (`final_seats`); ids unique, `created`
    increasing."""
    now, run, jobs = int(time.time()), uuid.uuid4().hex[:8], []
    for n in range(count):
        account = n % accounts
        obj = subscription(account=f"acct-{account}", quantity=n // accounts + 1, sub_id=f"sub_{account}",
                           customer=f"cus_{account}")
        event_id = f"evt_e2e{run}{n:08d}"
        body = json.dumps(stripe_event("customer.subscription.updated", obj, created=now - count + n,
                                       event_id=event_id))
        header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=now)
        jobs.append((event_id, body.encode(), {"Content-Type": "application/json", "Stripe-Signature": header}))
    return jobs


def final_seats(count: int, accounts: int) -> dict[str, int]:
    """The seat count of each account's last event among `count` (see `signed_jobs`)."""
    last = {n % accounts: n for n in range(max(count - accounts, 0), count)}
    return {f"acct-{account}": n // accounts + 1 for account, n in last.items()}


def know_customers(url: str, accounts: int) -> None:
    """Each account's customer in the enrichment cache, as its `customer.created` event leaves it (without it a
    subscription's MRR is withheld with a warning, and no key to look it up is given here)."""
    engine = create_engine(normalise_database_url(url))
    try:
        st.Store(engine).cache_objects("stripe", {f"cus_{n}": customer(f"cus_{n}", f"acct-{n}")
                                                  for n in range(accounts)}, time.time())
    finally:
        engine.dispose()


def sample(t: float, service: Deployment) -> Sample:
    store, box = st.Store(service.engine), ob.Outbox(service.engine)
    events, outbox = store.count_by_status(), box.counts()

    def waiting(kind: str) -> int:
        return outbox[kind].get(ob.PENDING, 0) + outbox[kind].get(ob.WAITING, 0)

    lag, pendo = round(lag_seconds(store, box, time.time()), 2), service.pendo.state()
    return Sample(t, sum(events.values()), events.get(st.RECEIVED, 0), lag, waiting("metadata"), waiting("track"),
                  service.pendo.calls(pendo), sum(rss_kib(worker.pid) for worker in service.workers),
                  int(pendo["tracks"]))


def wait_for_workers(workers: list[subprocess.Popen[bytes]], pendo: FakePendo) -> None:
    """Each worker verifies the integration key at start: a request to Pendo per worker says they are up."""
    deadline = time.monotonic() + BOOT_LIMIT_S
    while pendo.calls() < len(workers):
        if any(worker.poll() is not None for worker in workers) or time.monotonic() > deadline:
            raise BenchError("a bridge worker did not start; see worker*.log")
        time.sleep(0.2)
    time.sleep(0.5)  # any other start-up request lands before the count starts
    pendo.before = int(pendo.state()["requests"])


def worker_log(index: int) -> str:
    """worker.log for the first worker (as with one), worker2.log, … for the others."""
    return "worker" if index == 0 else f"worker{index + 1}"


@contextmanager
def database(url: str | None, workdir: Path, keep: bool) -> Iterator[tuple[str, Engine]]:
    """The DATABASE_URL for the service and an engine to sample with: a SQLite file in `workdir`, or a fresh
    database on the PostgreSQL server of `url`, dropped at the end unless `keep`."""
    if not url:
        engine = create_engine(f"sqlite:///file:{workdir / 'bench.db'}?mode=ro&uri=true")  # reads only, no BEGIN
        try:
            yield f"sqlite:///{workdir / 'bench.db'}", engine
        finally:
            engine.dispose()
        return
    server = make_url(normalise_database_url(url))
    name = "bridge_bench_" + uuid.uuid4().hex[:10]
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    fresh = server.set(database=name)
    engine = create_engine(fresh, pool_size=2)
    try:
        yield fresh.render_as_string(hide_password=False), engine
    finally:
        engine.dispose()
        if keep:
            say(f"kept database {name}")
        else:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def deployment(args: argparse.Namespace, workdir: Path, secret: str) -> Iterator[Deployment]:
    """`bridge migrate`, the fake Pendo, the Procfile's web line and `args.workers` workers, up and ready."""
    env = ingest.service_env(workdir, secret)
    with database(args.database_url, workdir, args.keep) as (url, engine):
        env["DATABASE_URL"] = url
        ingest.migrate(env, workdir)
        know_customers(url, args.accounts)
        pendo = FakePendo(args.latency)
        env.update(PENDO_BASE_URL=pendo.url, PENDO_INTEGRATION_KEY=KEY, PENDO_TRACK_EVENT_SECRET=TRACK,
                   PENDO_REQUESTS_PER_SECOND=f"{args.budget:g}")
        workers: list[subprocess.Popen[bytes]] = []
        try:
            with ingest.serve("web", "bridge.web:create_app()", args.web_workers, env, workdir) as web:
                for index in range(args.workers):
                    with (workdir / f"{worker_log(index)}.log").open("ab") as log:
                        workers.append(subprocess.Popen([str(ingest.BIN / "bridge"), "worker"], env=env, cwd=workdir,
                                                        stdout=log, stderr=subprocess.STDOUT))
                wait_for_workers(workers, pendo)
                yield Deployment(web, workers, pendo, engine, "sqlite" if url.startswith("sqlite") else "postgresql")
        finally:
            for worker in workers:
                stop(worker)
            stop(pendo.process)


def delivered(last: Sample, accepted: int) -> bool:
    """Every accepted event is stored and mapped, and every value and track event it made is in Pendo."""
    return last.stored >= accepted and not (last.unmapped or last.values_undelivered or last.tracks_undelivered)


def cpu(processes: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each process with its children, and of this client."""
    return {**{name: ingest.cpu_seconds(pid) for name, pid in processes.items()}, "client": time.process_time()}


def drive(args: argparse.Namespace, jobs: Sequence[Job], service: Deployment) -> dict[str, Any]:
    """Send in a thread and sample every second until everything is delivered, or the drain limit."""
    sent: dict[str, Any] = {}

    def send() -> None:
        try:
            sent.update(ingest.open_loop(service.web.url + ingest.WEBHOOK_PATH, jobs,  # type: ignore[arg-type]
                                         args.rate, ingest.bridge_ok))
        finally:
            sent["end"], sent["end_at"] = time.perf_counter() - start, time.time()

    processes = {"web": service.web.process.pid, "pendo": service.pendo.process.pid,
                 **{worker_log(index): worker.pid for index, worker in enumerate(service.workers)}}
    samples: list[Sample] = []
    cpu_pct: dict[str, int]
    cpu_start, cpu_pct = cpu(processes), {}
    start = time.perf_counter()
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    while True:
        time.sleep(max(0.0, start + len(samples) + 1 - time.perf_counter()))
        for index, worker in enumerate(service.workers):
            if worker.poll() is not None:
                raise BenchError(f"bridge worker exited with {worker.returncode}; see {worker_log(index)}.log")
        samples.append(sample(time.perf_counter() - start, service))
        if "end" not in sent:
            continue
        if not cpu_pct:
            wall, cpu_now = time.perf_counter() - start, cpu(processes)
            cpu_pct = {name: round(100 * (cpu_now[name] - cpu_start[name]) / wall) for name in cpu_now}
        if "ok" not in sent:
            raise BenchError("the sender failed; see the traceback above")
        if delivered(samples[-1], sent["ok"]) or samples[-1].t - sent["end"] > args.drain_limit:
            break
    state = service.pendo.state()
    return {"sent": sent, "samples": samples, "cpu_pct_while_sending": cpu_pct,
            "busiest_second": state["max_data_requests_in_one_second"], "pendo_state": state}


def latest_in_pendo(pendo: FakePendo, name: str, expected: dict[str, Any], last_webhook_at: float) -> dict[str, Any]:
    """Whether every account's value of field `name` in Pendo is the last one sent, and when the last of them
    arrived, in seconds after the last webhook was answered."""
    found = pendo.field(name)
    wrong = sorted(account for account, value in expected.items() if found.get(account, {}).get("value") != value)
    arrivals = [found[account]["changed_at"] for account in expected if account in found]
    after = round(max(arrivals) - last_webhook_at, 1) if arrivals else None
    return {"field": name, "accounts": len(expected), "current": len(expected) - len(wrong),
            "wrong_samples": wrong[:3], "last_arrival_after_last_webhook_s": after}


def log_warnings(workdir: Path, workers: int) -> int:
    names = ["web", *(worker_log(index) for index in range(workers))]
    return sum(ingest.log_problems(workdir / f"{name}.log") for name in names)


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    secret = "whsec_bench_" + uuid.uuid4().hex
    with deployment(args, workdir, secret) as service:
        count = int(args.rate * args.seconds)
        jobs = signed_jobs(count, args.accounts, secret)
        say(f"sending {len(jobs)} events at {args.rate:g}/s over {args.accounts} accounts to {args.workers} "
            f"worker(s) on {service.database}")
        result = drive(args, jobs, service)
        result["latest"] = latest_in_pendo(service.pendo, "seats", final_seats(count, args.accounts),
                                           result["sent"]["end_at"])
        result["burst"] = Budget(service.engine, args.budget).burst
        result["database"] = service.database
    result["log_warnings"] = log_warnings(workdir, args.workers)
    return report(args, result)


def lag_summary(sending: list[Sample]) -> dict[str, Any]:
    """Flat: never above LAG_MAX_S, and the last third of the sending no higher than the first (+ noise)."""
    lags, third = [s.lag_s for s in sending], max(len(sending) // 3, 1)
    first, last = sum(lags[:third]) / third, sum(lags[-third:]) / third
    return {"max_while_sending_s": max(lags, default=0.0), "first_third_mean_s": round(first, 2),
            "last_third_mean_s": round(last, 2),
            "flat": bool(lags) and max(lags) <= LAG_MAX_S and last <= first + LAG_GROWTH_S}


def pendo_summary(result: dict[str, Any], budget: float, burst: int) -> dict[str, Any]:
    """Calls per second over the run (<= budget) and in the busiest second (<= budget + burst, the GCRA's bound)."""
    last, events, busiest = result["samples"][-1], result["sent"]["ok"], result["busiest_second"]
    mean = last.pendo_calls / last.t
    return {"calls": last.pendo_calls, "calls_per_1000_events": round(1000 * last.pendo_calls / max(events, 1), 2),
            "calls_per_s_mean": round(mean, 2), "calls_in_busiest_second": busiest, "budget_per_s": budget,
            "burst": burst, "within_budget": mean <= budget and busiest <= budget + burst}


def report(args: argparse.Namespace, result: dict[str, Any]) -> dict[str, Any]:
    sent, samples = result["sent"], result["samples"]
    sending = [s for s in samples if s.t <= sent["end"]] or samples[:1]
    done, end_of_sending = samples[-1], sending[-1]
    drained = delivered(done, sent["ok"])
    pendo = pendo_summary(result, args.budget, result["burst"])
    lag = lag_summary(sending)
    rss = [s.worker_rss_kib for s in samples if s.worker_rss_kib]
    latest = result["latest"]
    verdict = {
        "load_at_target": args.rate >= TARGET_RATE and args.seconds >= TARGET_SECONDS,
        "sent_at_rate_all_accepted": sent["achieved_rate"] >= RATE_SHARE * args.rate and sent["errors"] == 0,
        "ack_p99_within_50ms": sent["p99_ms"] is not None and sent["p99_ms"] <= ACK_P99_MS,
        "lag_flat": lag["flat"], "pendo_within_budget": pendo["within_budget"], "drained": drained,
        "latest_in_pendo_within_30s": latest["current"] == latest["accounts"]
        and latest["last_arrival_after_last_webhook_s"] is not None
        and latest["last_arrival_after_last_webhook_s"] <= LATEST_WITHIN_S,
    }
    return {
        "rate": args.rate, "seconds": args.seconds, "accounts": args.accounts, "database": result["database"],
        "workers": args.workers, "web_workers": args.web_workers,
        "pendo_latency_s": args.latency, "cores": os.cpu_count(), "load_before": args.load_before,
        "ingest": {k: sent[k] for k in ("ok", "errors", "error_samples", "achieved_rate", "p50_ms", "p99_ms",
                                        "max_ms", "max_send_lag_ms")},
        "stored": done.stored,
        "mapped_per_s_while_sending": round((end_of_sending.stored - end_of_sending.unmapped) / end_of_sending.t, 1),
        "unmapped_max": max(s.unmapped for s in samples),
        "values_undelivered_max": max(s.values_undelivered for s in samples),
        "lag_s_every_10s": [s.lag_s for s in samples[9::10]], "lag": lag, "pendo": pendo, "latest_in_pendo": latest,
        "drain_s": round(done.t - sent["end"], 1),
        "worker_rss_kib_min_max": [min(rss, default=0), max(rss, default=0)],
        "cpu_pct_while_sending": result["cpu_pct_while_sending"], "log_warnings": result["log_warnings"],
        **({"samples": [asdict(s) for s in samples]} if args.samples else {}),
        "verdict": verdict, "pass": all(verdict.values()),
    }


def service_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the deployment under test, shared with bench/burst.py."""
    parser.add_argument("--budget", type=float, default=20.0, help="PENDO_REQUESTS_PER_SECOND")
    parser.add_argument("--latency", type=float, default=0.05, help="the fake Pendo's latency per request (s)")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes (default 2 = cores)")
    parser.add_argument("--workers", type=int, default=1, help="`bridge worker` processes")
    parser.add_argument("--database-url", help="a PostgreSQL server (postgresql://…): a fresh database is made on it "
                                               "for the run and dropped after; default a SQLite file")
    parser.add_argument("--drain-limit", type=float, default=600.0, help="seconds to wait for delivery after sending")
    parser.add_argument("--samples", action="store_true", help="include every one-second sample in the JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (database, logs) and the "
                                                            "PostgreSQL database")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="events per second sent")
    parser.add_argument("--seconds", type=float, default=TARGET_SECONDS, help=f"how long (at most {MAX_SECONDS:g})")
    parser.add_argument("--accounts", type=int, default=2000, help="accounts the events cycle over")
    service_arguments(parser)
    args = parser.parse_args()
    if not (0 < args.seconds <= MAX_SECONDS) or min(args.rate, args.accounts, args.budget, args.web_workers,
                                                    args.workers) <= 0:
        say("--rate, --accounts, --budget, --web-workers, --workers must be positive and "
            f"0 < --seconds <= {MAX_SECONDS:g}")
        return 2
    return conclude(args, run, "bridge-e2e-bench-")


def conclude(args: argparse.Namespace, run: Callable[[argparse.Namespace, Path], dict[str, Any]], prefix: str) -> int:
    """Run `run` in a fresh directory, print its JSON report and its verdict; the exit code (0 every target met, 1 a
    target missed, 2 could not run)."""
    args.load_before = round(os.getloadavg()[0], 2)
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        result = run(args, workdir)
    except (BenchError, requests.RequestException) as exc:
        say(f"benchmark could not run: {exc}")
        args.keep = True
        return 2
    finally:
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, indent=2))
    say("verdict: " + ", ".join(f"{name} {'PASS' if ok else 'FAIL'}" for name, ok in result["verdict"].items()))
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
