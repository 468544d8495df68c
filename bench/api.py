"""HTTP API benchmark: `POST /v1/track` with batches of 100 events against `POST /webhooks/stripe`, one server.

Both go to the same gunicorn (the Procfile's `web:` line, as bench/ingest.py runs it) on one fresh SQLite file
(`synchronous=FULL`): first the webhooks — a closed loop for the most requests per second, then an open loop at
`--rate` — then the same two loops with track batches. The figure compared is events stored per second: one per
webhook, 100 per track request. See bench/README.md.

    .venv/bin/python bench/api.py [--requests 3000] [--track-requests 1000] [--concurrency 16] [--rate 100]
                                  [--seconds 20] [--batch 100] [--workers 2] [--json] [--keep]

Exit codes: 0 every target met, 1 a target missed, 2 the benchmark could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import wire
from ingest import (
    BIN,
    BenchError,
    Job,
    bridge_ok,
    closed_loop,
    log_problems,
    measured,
    migrate,
    open_loop,
    say,
    serve,
    service_env,
    signed_jobs,
)

TRACK_PATH = "/v1/track"


def track_jobs(count: int, batch: int, key: str, prefix: str) -> list[Job]:
    """`count` requests of `batch` events each, every event with its own messageId (all stored, none duplicate)."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    jobs = []
    for n in range(count):
        events = [{"event": "Report Exported", "visitorId": f"user-{(n * batch + i) % 5000}",
                   "accountId": f"acct-{(n * batch + i) % 500}", "properties": {"format": "csv", "rows": i},
                   "messageId": f"{prefix}-{n}-{i}"} for i in range(batch)]
        jobs.append((f"{prefix}-{n}", json.dumps(events).encode(), headers))
    return jobs


def track_ok(batch: int) -> Any:
    def check(_job_id: str, response: wire.Answer) -> bool:
        if response.status_code != 202:
            return False
        try:
            return bool(response.json() == {"accepted": batch, "duplicates": 0})
        except ValueError:
            return False
    return check


def create_key(env: dict[str, str], workdir: Path) -> str:
    done = subprocess.run([str(BIN / "bridge"), "keys", "create", "bench"], env=env, cwd=workdir,
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise BenchError(f"bridge keys create failed: {done.stderr[-2000:]}")
    return done.stdout.strip()


def count(database: Path, query: str, prefix: str) -> int:
    with sqlite3.connect(database) as connection:
        return int(connection.execute(query, (f"{prefix}%",)).fetchone()[0])


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    secret = "whsec_bench_" + uuid.uuid4().hex
    env = {**service_env(workdir, secret), "BRIDGE_API_REQUESTS_PER_SECOND": "100000"}
    migrate(env, workdir)
    key = create_key(env, workdir)
    say(f"one server: gunicorn {args.workers} workers; webhooks: {args.requests} requests x {args.concurrency} "
        f"threads, then {args.rate:g} req/s for {args.seconds:g} s; track: {args.track_requests} requests of "
        f"{args.batch} events, then {args.rate:g} req/s for {args.seconds:g} s")
    prefix = uuid.uuid4().hex[:8]
    with serve("bridge", "bridge.web:create_app()", args.workers, env, workdir) as server:
        hooks_url = server.url + "/webhooks/stripe"
        warm = closed_loop(hooks_url, signed_jobs(args.concurrency * 10, secret, prefix + "w"), args.concurrency,
                           bridge_ok)
        if warm["errors"]:
            raise BenchError(f"warm-up failed: {warm['error_samples']}")
        jobs = signed_jobs(args.requests, secret, prefix + "c")
        hooks_closed = measured(server, lambda: closed_loop(hooks_url, jobs, args.concurrency, bridge_ok))
        jobs = signed_jobs(int(args.rate * args.seconds), secret, prefix + "o")
        hooks_open = measured(server, lambda: open_loop(hooks_url, jobs, args.rate, bridge_ok))

        track_url, check = server.url + TRACK_PATH, track_ok(args.batch)
        jobs = track_jobs(args.track_requests, args.batch, key, prefix + "c")
        track_closed = measured(server, lambda: closed_loop(track_url, jobs, args.concurrency, check))
        jobs = track_jobs(int(args.rate * args.seconds), args.batch, key, prefix + "o")
        track_open = measured(server, lambda: open_loop(track_url, jobs, args.rate, check))
        command = shlex.join(server.command)
    database = workdir / "bench.db"
    sent_events = (args.track_requests + int(args.rate * args.seconds)) * args.batch
    stored_events = count(database, "select count(*) from track_events where event_id like ?", f"bench:{prefix}")
    return report(args, command, hooks_closed, hooks_open, track_closed, track_open, sent_events, stored_events,
                  log_problems(workdir / "bridge.log"))


def report(args: argparse.Namespace, command: str, hooks_closed: dict[str, Any], hooks_open: dict[str, Any],
           track_closed: dict[str, Any], track_open: dict[str, Any], sent: int, stored: int,
           warnings: int) -> dict[str, Any]:
    hooks_eps = hooks_closed["requests_per_s"]
    track_eps = round(track_closed["requests_per_s"] * args.batch, 1)
    errors = sum(p["errors"] + p.get("unsent", 0) for p in (track_closed, track_open))
    verdict = {
        "closed_loop_track_events_per_s_at_least_webhooks": track_eps >= hooks_eps,
        "same_request_rate_track_events_per_s_at_least_webhooks":
            track_open["achieved_rate"] * args.batch >= hooks_open["achieved_rate"] and not track_open["errors"],
        "every_track_event_acknowledged_and_stored": errors == 0 and stored == sent,
    }
    return {
        "command": command, "workers": args.workers, "batch": args.batch, "rate": args.rate, "seconds": args.seconds,
        "cores": os.cpu_count(), "load_before": args.load_before,
        "webhooks": {"closed_loop": hooks_closed, "open_loop": hooks_open, "events_per_s_closed_loop": hooks_eps},
        "track": {"closed_loop": track_closed, "open_loop": track_open, "events_per_s_closed_loop": track_eps,
                  "events_per_s_open_loop": round(track_open["achieved_rate"] * args.batch, 1),
                  "events_sent": sent, "events_stored": stored},
        "log_warnings": warnings, "verdict": verdict, "pass": all(verdict.values()),
    }


def table(result: dict[str, Any]) -> str:
    hooks, track = result["webhooks"], result["track"]
    hc, ho, tc, to = hooks["closed_loop"], hooks["open_loop"], track["closed_loop"], track["open_loop"]
    mark = {True: "PASS", False: "FAIL"}

    def row(label: str, left: Any, right: Any) -> str:
        return f"  {label:<30}{left!s:>28}{right!s:>28}"

    return "\n".join([
        f"server: {result['command']}",
        f"{result['cores']} cores shared by the client and the server; load average before {result['load_before']}",
        row("", "webhooks", f"track ({result['batch']}/request)"),
        "closed loop (most requests per second)",
        row("requests/s", hc["requests_per_s"], tc["requests_per_s"]),
        row("events stored/s", hooks["events_per_s_closed_loop"], track["events_per_s_closed_loop"]),
        row("latency p50 / p99 (ms)", f"{hc['p50_ms']} / {hc['p99_ms']}", f"{tc['p50_ms']} / {tc['p99_ms']}"),
        row("CPU % server / client", f"{hc['server_cpu_pct']} / {hc['client_cpu_pct']}",
            f"{tc['server_cpu_pct']} / {tc['client_cpu_pct']}"),
        f"open loop at {result['rate']:g} requests/s for {result['seconds']:g} s (latency from the planned send)",
        row("achieved requests/s", ho["achieved_rate"], to["achieved_rate"]),
        row("events stored/s", ho["achieved_rate"], track["events_per_s_open_loop"]),
        row("latency p50 / p99 / max (ms)", f"{ho['p50_ms']} / {ho['p99_ms']} / {ho['max_ms']}",
            f"{to['p50_ms']} / {to['p99_ms']} / {to['max_ms']}"),
        row("errors", ho["errors"], to["errors"]),
        row("CPU % server / client", f"{ho['server_cpu_pct']} / {ho['client_cpu_pct']}",
            f"{to['server_cpu_pct']} / {to['client_cpu_pct']}"),
        f"track events stored {track['events_stored']} of {track['events_sent']}; "
        f"{result['log_warnings']} warning/error log lines",
        "verdict",
        *[f"  {name}: {mark[ok]}" for name, ok in result["verdict"].items()],
    ])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="closed-loop webhook requests")
    parser.add_argument("--track-requests", type=int, default=1000, help="closed-loop track requests")
    parser.add_argument("--batch", type=int, default=100, help="track events per request (at most 500)")
    parser.add_argument("--concurrency", type=int, default=16, help="closed-loop client threads")
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop requests per second, both paths")
    parser.add_argument("--seconds", type=float, default=20.0, help="open-loop duration")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (database, logs)")
    return parser


def _terminate(_signum: int, _frame: Any) -> None:
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not 1 <= args.batch <= 500 or min(args.requests, args.track_requests, args.concurrency, args.workers) < 1:
        say("--batch must be 1..500 and the counts positive")
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    args.load_before = round(os.getloadavg()[0], 2)
    workdir = Path(tempfile.mkdtemp(prefix="bridge-bench-api-"))
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
