"""Ingest benchmark: the bridge's verified webhook ingest against a bare Flask app, same gunicorn line.

For each server: (a) max throughput, a closed loop of client threads with one keep-alive connection each
(`wire.Session`: a client light enough not to be the limit);
(b) a fixed-rate open loop whose latency runs from each request's planned send time, so a stall is not
hidden by the client waiting (coordinated omission). See bench/README.md.

    .venv/bin/python bench/ingest.py [--requests 3000] [--concurrency 16] [--rate 100] [--seconds 20]
                                     [--workers 2] [--json]

Exit codes: 0 every target met, 1 a target missed, 2 the benchmark could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import stripe
import wire
from processes import stop

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
WEBHOOK_PATH = "/webhooks/stripe"
TARGET_RATIO = 0.50
TARGET_P99_MS = 50.0
REQUEST_TIMEOUT_S = 10.0
CLOSED_LOOP_LIMIT_S = 240.0  # a closed loop stops issuing after this long, even short of its count
OPEN_LOOP_GRACE_S = 30.0  # an open loop stops issuing this long after its last planned send
OPEN_LOOP_SENDERS = 32
BOOT_LIMIT_S = 30.0
CLIENT_BOUND_PCT = 85  # a Python client near one core is held by its GIL: the figure it measured is a floor

Job = tuple[str, bytes, dict[str, str]]  # event id, body, headers
Check = Callable[[str, wire.Answer], bool]


class BenchError(Exception):
    """The benchmark could not run (a server did not start, the migration failed)."""


# The request bodies.

def subscription_updated(event_id: str, now: int) -> dict[str, Any]:
    """A realistic `customer.subscription.updated` event (seats 3 → 5), about 3 KB as Stripe sends it."""
    tail = event_id[-14:]
    sub, customer = f"sub_1Q{tail}", f"cus_Q{tail}"
    period = {"current_period_start": now - 86400 * 9, "current_period_end": now + 86400 * 21}
    price = {
        "id": "price_1PmZk2BenchProMonthly", "object": "price", "active": True, "billing_scheme": "per_unit",
        "created": now - 86400 * 200, "currency": "usd", "custom_unit_amount": None, "livemode": True,
        "lookup_key": "pro_monthly", "metadata": {}, "nickname": "Pro", "product": "prod_QdBenchPro",
        "recurring": {"interval": "month", "interval_count": 1, "meter": None, "trial_period_days": None,
                      "usage_type": "licensed"},
        "tax_behavior": "exclusive", "tiers_mode": None, "transform_quantity": None, "type": "recurring",
        "unit_amount": 4900, "unit_amount_decimal": "4900",
    }
    item = {"id": f"si_Q{tail}", "object": "subscription_item", "created": now - 86400 * 40, "discounts": [],
            "metadata": {}, "price": price, "quantity": 5, "subscription": sub, "tax_rates": [], **period}
    subscription = {
        "id": sub, "object": "subscription", "application": None, "automatic_tax": {"enabled": False},
        "billing_cycle_anchor": now - 86400 * 40, "cancel_at": None, "cancel_at_period_end": False,
        "canceled_at": None, "collection_method": "charge_automatically", "created": now - 86400 * 40,
        "currency": "usd", "customer": customer, "days_until_due": None,
        "default_payment_method": f"pm_1Q{tail}", "description": None, "discounts": [], "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {"object": "list", "data": [item], "has_more": False, "total_count": 1,
                  "url": f"/v1/subscription_items?subscription={sub}"},
        "latest_invoice": f"in_1Q{tail}", "livemode": True,
        "metadata": {"pendo_account_id": f"acct-{tail}", "pendo_visitor_id": f"owner-{tail}@example.com"},
        "payment_settings": {"payment_method_options": None, "payment_method_types": None,
                             "save_default_payment_method": "off"},
        "pending_update": None, "schedule": None, "start_date": now - 86400 * 40, "status": "active",
        "trial_end": None, "trial_start": None,
    }
    return {
        "id": event_id, "object": "event", "api_version": "2025-03-31.basil", "created": now,
        "data": {"object": subscription, "previous_attributes": {
            "items": {"data": [{"id": item["id"], "object": "subscription_item", "quantity": 3}]},
            "latest_invoice": f"in_1P{tail}"}},
        "livemode": True, "pending_webhooks": 1, "type": "customer.subscription.updated",
        "request": {"id": f"req_{tail}", "idempotency_key": str(uuid.uuid4())},
    }


def signed_jobs(count: int, secret: str, prefix: str) -> list[Job]:
    """`count` events with unique ids, each signed now (outside any timed part)."""
    now, jobs = int(time.time()), []
    for n in range(count):
        event_id = f"evt_{prefix}{n:08d}"
        body = json.dumps(subscription_updated(event_id, now), indent=2)
        header = stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=now)
        jobs.append((event_id, body.encode(), {"Content-Type": "application/json", "Stripe-Signature": header}))
    return jobs


def bridge_ok(event_id: str, response: wire.Answer) -> bool:
    """The bridge stored this event: 200 with received=true for this id, not a duplicate."""
    if response.status_code != 200:
        return False
    try:
        answer = response.json()
    except ValueError:
        return False
    return answer.get("received") is True and answer.get("event_id") == event_id and not answer.get("duplicate")


def bare_ok(_event_id: str, response: wire.Answer) -> bool:
    return response.status_code == 200


# The servers.

def procfile_web() -> list[str]:
    """The Procfile's `web:` command line, split as a shell would."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return shlex.split(line.removeprefix("web:"))
    raise BenchError("the Procfile has no web: line")


def web_command(port: int, workers: int, app_spec: str) -> list[str]:
    """The Procfile's web line with the venv's gunicorn, a loopback bind, `workers` and `app_spec`."""
    words = procfile_web()
    if words[0] != "gunicorn" or "--bind" not in words:
        raise BenchError(f"the Procfile's web line is not `gunicorn --bind ...`: {words}")
    words[words.index("--bind") + 1] = f"127.0.0.1:{port}"
    return [str(BIN / "gunicorn"), "--workers", str(workers), *words[1:-1], app_spec]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children (gunicorn's master and workers), from /proc."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    command: list[str]


def wait_ready(server: Server) -> None:
    """Wait until a gunicorn worker answers HTTP at all (any status), or fail if the process exits."""
    deadline = time.monotonic() + BOOT_LIMIT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(f"{server.name} exited with {server.process.returncode}; see {server.log}")
        try:
            requests.get(server.url + WEBHOOK_PATH, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise BenchError(f"{server.name} did not answer within {BOOT_LIMIT_S:.0f} s; see {server.log}")



@contextmanager
def serve(name: str, app_spec: str, workers: int, env: dict[str, str], workdir: Path) -> Iterator[Server]:
    port, log = free_port(), workdir / f"{name}.log"
    command = web_command(port, workers, app_spec)
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, cwd=workdir, stdout=out, stderr=out)
    server = Server(name, f"http://127.0.0.1:{port}", process, log, command)
    try:
        wait_ready(server)
        yield server
    finally:
        stop(process)


def service_env(workdir: Path, secret: str) -> dict[str, str]:
    """This environment without any bridge or gunicorn setting, plus the benchmark's own."""
    own = ("BRIDGE_", "STRIPE_", "PENDO_", "GUNICORN_")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(own) and k not in ("DATABASE_URL", "WEB_CONCURRENCY", "PORT", "DYNO")}
    # HOME: gunicorn puts its control socket in $HOME/.gunicorn; one per run avoids other gunicorns' sockets.
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", HOME=str(workdir), STRIPE_WEBHOOK_SECRET=secret,
               DATABASE_URL=f"sqlite:///{workdir / 'bench.db'}", BRIDGE_MAPPINGS_DIR=str(ROOT / "mappings"),
               BRIDGE_LOG_FORMAT="json", PYTHONPATH=str(BENCH))
    return env


def migrate(env: dict[str, str], workdir: Path) -> None:
    done = subprocess.run([str(BIN / "bridge"), "migrate"], env=env, cwd=workdir, capture_output=True,
                          timeout=120, check=False)
    if done.returncode != 0:
        raise BenchError(f"bridge migrate failed: {done.stderr.decode(errors='replace')[-2000:]}")


# The load.

@dataclass
class Tally:
    """Latencies of good answers, and the errors, from many threads."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, ok: bool, latency: float, what: str) -> None:
        with self.lock:
            if ok:
                self.latencies.append(latency)
                return
            self.errors += 1
            if len(self.samples) < 3:
                self.samples.append(what)

    def summary(self, elapsed: float) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def ms(q: float) -> float | None:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2) if ordered else None

        return {"ok": len(ordered), "errors": self.errors, "error_samples": self.samples,
                "elapsed_s": round(elapsed, 3), "p50_ms": ms(0.50), "p99_ms": ms(0.99), "max_ms": ms(1.0)}


class Feed:
    """Hands out the jobs in order to many threads."""

    def __init__(self, jobs: list[Job]):
        self._items, self._lock = iter(enumerate(jobs)), threading.Lock()

    def next(self) -> tuple[int, Job] | None:
        with self._lock:
            return next(self._items, None)


def client_session() -> requests.Session:
    """A `requests` session (for the odd call outside the load loops) that ignores proxy and netrc settings."""
    session = requests.Session()
    session.trust_env = False
    return session


def send(session: wire.Session, url: str, job: Job, check: Check) -> tuple[bool, str]:
    event_id, body, headers = job
    try:
        response = session.post(url, data=body, headers=headers, timeout=REQUEST_TIMEOUT_S)
    except wire.WireError as exc:
        return False, str(exc)[:160]
    return (True, "") if check(event_id, response) else (False, f"{response.status_code} {response.text[:160]}")


def run_threads(target: Callable[[], None], count: int, limit: float) -> float:
    """Run `count` threads of `target`; the seconds until the last one ended."""
    threads = [threading.Thread(target=target, daemon=True) for _ in range(count)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, start + limit - time.perf_counter()))
    return time.perf_counter() - start


def closed_loop(url: str, jobs: list[Job], concurrency: int, check: Check) -> dict[str, Any]:
    """Each thread sends its next request as soon as the last one is answered."""
    tally, feed, deadline = Tally(), Feed(jobs), time.monotonic() + CLOSED_LOOP_LIMIT_S

    def client() -> None:
        with wire.Session() as session:
            while time.monotonic() < deadline and (item := feed.next()) is not None:
                start = time.perf_counter()
                ok, what = send(session, url, item[1], check)
                tally.record(ok, time.perf_counter() - start, what)

    elapsed = run_threads(client, concurrency, CLOSED_LOOP_LIMIT_S + REQUEST_TIMEOUT_S)
    result = tally.summary(elapsed)
    result["unsent"] = len(jobs) - result["ok"] - result["errors"]
    result["requests_per_s"] = round(result["ok"] / elapsed, 1)
    return result


def open_loop(url: str, jobs: list[Job], rate: float, check: Check) -> dict[str, Any]:
    """Send job i at start + i/rate; latency runs from that planned time to the answer."""
    tally, feed, lag = Tally(), Feed(jobs), [0.0]
    start = time.perf_counter() + 0.2  # the senders' sessions are up before the first planned send
    cutoff = start + len(jobs) / rate + OPEN_LOOP_GRACE_S

    def sender() -> None:
        with wire.Session() as session:
            while (item := feed.next()) is not None:
                planned = start + item[0] / rate
                time.sleep(max(0.0, planned - time.perf_counter()))
                if time.perf_counter() > cutoff:
                    tally.record(False, 0.0, "not sent: past the open loop's time limit")
                    continue
                lag[0] = max(lag[0], time.perf_counter() - planned)
                ok, what = send(session, url, item[1], check)
                tally.record(ok, time.perf_counter() - planned, what)

    elapsed = run_threads(sender, OPEN_LOOP_SENDERS, len(jobs) / rate + OPEN_LOOP_GRACE_S + REQUEST_TIMEOUT_S)
    result = tally.summary(elapsed - 0.2)
    result["max_send_lag_ms"] = round(lag[0] * 1000, 2)
    result["achieved_rate"] = round(result["ok"] / (elapsed - 0.2), 1)
    return result


def measured(server: Server, phase: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run `phase`, adding the CPU the server and this client used (100 % = one core)."""
    server_cpu, client_cpu, wall = cpu_seconds(server.process.pid), time.process_time(), time.perf_counter()
    result = phase()
    wall = time.perf_counter() - wall
    result["server_cpu_pct"] = round(100 * (cpu_seconds(server.process.pid) - server_cpu) / wall)
    result["client_cpu_pct"] = round(100 * (time.process_time() - client_cpu) / wall)
    return result


def bench_server(server: Server, args: argparse.Namespace, secret: str, check: Check) -> dict[str, Any]:
    """Warm up, then the closed loop, then the open loop, each with freshly signed events."""
    url, prefix = server.url + WEBHOOK_PATH, f"{server.name}{uuid.uuid4().hex[:8]}"
    warm = closed_loop(url, signed_jobs(args.concurrency * 10, secret, prefix + "w"), args.concurrency, check)
    if warm["errors"]:
        raise BenchError(f"{server.name} warm-up failed: {warm['error_samples']}; see {server.log}")
    jobs = signed_jobs(args.requests, secret, prefix + "c")
    closed = measured(server, lambda: closed_loop(url, jobs, args.concurrency, check))
    jobs = signed_jobs(int(args.rate * args.seconds), secret, prefix + "o")
    opened = measured(server, lambda: open_loop(url, jobs, args.rate, check))
    sent = args.concurrency * 10 + args.requests + len(jobs)
    return {"command": shlex.join(server.command), "closed_loop": closed, "open_loop": opened, "sent": sent,
            "prefix": prefix}


def stored_events(database: Path, prefix: str) -> int:
    with sqlite3.connect(database) as connection:
        query = "SELECT count(*) FROM events WHERE provider = 'stripe' AND event_id LIKE ?"
        return int(connection.execute(query, (f"evt_{prefix}%",)).fetchone()[0])


def log_problems(log: Path) -> int:
    """Lines of the bridge's JSON log at WARNING or above."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    return sum('"level": "WARNING"' in line or '"level": "ERROR"' in line for line in lines)


# The run.

def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    secret = "whsec_bench_" + uuid.uuid4().hex
    env = service_env(workdir, secret)
    migrate(env, workdir)
    say(f"bridge: gunicorn {args.workers} workers, {args.requests} requests x {args.concurrency} threads, "
        f"then {args.rate:g} req/s for {args.seconds:g} s")
    with serve("bridge", "bridge.web:create_app()", args.workers, env, workdir) as server:
        bridge = bench_server(server, args, secret, bridge_ok)
    bridge["stored"] = stored_events(workdir / "bench.db", bridge.pop("prefix"))
    bridge["log_warnings"] = log_problems(workdir / "bridge.log")
    say("bare: the same")
    with serve("bare", "bare_app:create_app()", args.workers, env, workdir) as server:
        bare = bench_server(server, args, secret, bare_ok)
    bare.pop("prefix")
    return report(args, bridge, bare)


def report(args: argparse.Namespace, bridge: dict[str, Any], bare: dict[str, Any]) -> dict[str, Any]:
    for server in (bridge, bare):
        server["closed_loop"]["client_bound"] = server["closed_loop"]["client_cpu_pct"] >= CLIENT_BOUND_PCT
    ratio = bridge["closed_loop"]["requests_per_s"] / max(bare["closed_loop"]["requests_per_s"], 1e-9)
    p99 = bridge["open_loop"]["p99_ms"]
    errors = sum(bridge[p]["errors"] + bridge[p].get("unsent", 0) for p in ("closed_loop", "open_loop"))
    verdict = {
        "throughput_ratio": ratio >= TARGET_RATIO,
        "p99_at_rate": p99 is not None and p99 < TARGET_P99_MS,
        "every_event_acknowledged_and_stored": errors == 0 and bridge["stored"] == bridge["sent"],
    }
    return {
        "workers": args.workers, "requests": args.requests, "concurrency": args.concurrency, "rate": args.rate,
        "seconds": args.seconds, "cores": os.cpu_count(), "load_before": args.load_before,
        "bridge": bridge, "bare": bare, "throughput_ratio": round(ratio, 4),
        "targets": {"throughput_ratio_min": TARGET_RATIO, "p99_ms_max": TARGET_P99_MS},
        "verdict": verdict, "pass": all(verdict.values()),
    }


def table(result: dict[str, Any]) -> str:
    b, r = result["bridge"], result["bare"]
    bc, rc, bo, ro = b["closed_loop"], r["closed_loop"], b["open_loop"], r["open_loop"]

    def row(label: str, left: Any, right: Any, extra: str = "") -> str:
        return f"  {label:<28}{left!s:>18}{right!s:>18}{extra:>14}"

    v = result["verdict"]
    mark = {True: "PASS", False: "FAIL"}
    lines = [
        f"bridge: {b['command']}",
        f"bare:   {r['command']}",
        f"{result['cores']} cores, shared by the client and the servers; load average before the run "
        f"{result['load_before']}",
        row("", "bridge", "bare", "bridge/bare"),
        f"max throughput: closed loop, {result['concurrency']} threads, {result['requests']} requests",
        row("requests/s", bc["requests_per_s"], rc["requests_per_s"], f"{result['throughput_ratio']:.1%}"),
        row("latency p50 / p99 (ms)", f"{bc['p50_ms']} / {bc['p99_ms']}", f"{rc['p50_ms']} / {rc['p99_ms']}"),
        row("errors / unsent", f"{bc['errors']} / {bc['unsent']}", f"{rc['errors']} / {rc['unsent']}"),
        row("CPU % server / client", f"{bc['server_cpu_pct']} / {bc['client_cpu_pct']}",
            f"{rc['server_cpu_pct']} / {rc['client_cpu_pct']}"),
        f"fixed rate: open loop, {result['rate']:g} req/s for {result['seconds']:g} s, latency from planned send",
        row("latency p50 (ms)", bo["p50_ms"], ro["p50_ms"]),
        row("latency p99 (ms)", bo["p99_ms"], ro["p99_ms"]),
        row("latency max (ms)", bo["max_ms"], ro["max_ms"]),
        row("errors", bo["errors"], ro["errors"]),
        row("achieved req/s", bo["achieved_rate"], ro["achieved_rate"]),
        row("client max send lag (ms)", bo["max_send_lag_ms"], ro["max_send_lag_ms"]),
        row("CPU % server / client", f"{bo['server_cpu_pct']} / {bo['client_cpu_pct']}",
            f"{ro['server_cpu_pct']} / {ro['client_cpu_pct']}"),
        f"bridge: {b['stored']} of {b['sent']} events stored (warm-up included); "
        f"{b['log_warnings']} warning/error log lines",
        *[f"note: the client used {s['closed_loop']['client_cpu_pct']} % CPU (about one core, its GIL limit) in "
          f"the {name} closed loop: {name} requests/s there is a floor, not the server's limit"
          for name, s in (("bridge", b), ("bare", r)) if s["closed_loop"]["client_bound"]],
        "verdict",
        f"  throughput ratio {result['throughput_ratio']:.1%} >= {TARGET_RATIO:.0%}: "
        f"{mark[v['throughput_ratio']]}",
        f"  bridge p99 {bo['p99_ms']} ms < {TARGET_P99_MS:g} ms at {result['rate']:g} req/s: "
        f"{mark[v['p99_at_rate']]}",
        f"  every bridge answer 200 received=true, every event stored: "
        f"{mark[v['every_event_acknowledged_and_stored']]}",
    ]
    samples = [f"  {name} {phase}: {s}" for name in ("bridge", "bare") for phase in ("closed_loop", "open_loop")
               for s in result[name][phase]["error_samples"]]
    return "\n".join(lines + (["error samples", *samples] if samples else []))


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="closed-loop requests per server")
    parser.add_argument("--concurrency", type=int, default=16, help="closed-loop client threads")
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop requests per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="open-loop duration")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2 = cores)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (database, logs)")
    return parser


def _terminate(_signum: int, _frame: Any) -> None:
    raise SystemExit(2)  # unwinds through the servers' `finally`, which stop them


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if min(args.requests, args.concurrency, args.workers) < 1 or args.rate <= 0 or args.seconds <= 0:
        say("--requests, --concurrency, --workers, --rate and --seconds must be positive")
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    args.load_before = round(os.getloadavg()[0], 2)
    workdir = Path(tempfile.mkdtemp(prefix="bridge-bench-"))
    try:
        result = run(args, workdir)
    except BenchError as exc:
        say(f"benchmark could not run: {exc}")
        args.keep = True
        return 2
    finally:
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
