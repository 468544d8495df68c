"""Sync benchmark: `bridge sync stripe` over N subscriptions against a fake Stripe API and a fake Pendo.

    .venv/bin/python bench/sync.py [--subscriptions 50000] [--stripe-rps 50] [--json]

Starts `python -m tests.fakes.stripe` and `python -m tests.fakes.pendo`, migrates a fresh SQLite file, runs
`bridge worker` and `bridge sync stripe`, samples the sync's RSS, and waits until every account's fields are
delivered. Reports Stripe requests (target ≈ subscriptions/100), Pendo calls (target ≤ accounts/500 + 1),
the sync's RSS samples (flat) and throughput. Exit code 0 targets met, 1 a target missed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from processes import rss_kib

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def start_fake(module: str, *args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-m", module, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()



def delivered_accounts(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as connection:
        return int(connection.execute(
            "select count(*) from (select entity_id from field_values where kind = 'account' group by entity_id"
            " having sum(state != 'delivered') = 0)").fetchone()[0])


def run(count: int, stripe_rps: float, workdir: Path) -> dict[str, Any]:
    stripe, stripe_url = start_fake("tests.fakes.stripe", "--subscriptions", str(count))
    pendo, pendo_url = start_fake("tests.fakes.pendo")
    db = workdir / "bridge.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "STRIPE_WEBHOOK_SECRET": "whsec_bench",
           "STRIPE_API_KEY": "sk_test_bench", "STRIPE_API_BASE": stripe_url,
           "STRIPE_REQUESTS_PER_SECOND": str(stripe_rps), "PENDO_BASE_URL": pendo_url,
           "PENDO_INTEGRATION_KEY": "test-integration-key", "BRIDGE_MAPPINGS_DIR": str(ROOT / "mappings"),
           "BRIDGE_LOG_FORMAT": "json", "PENDO_REQUESTS_PER_SECOND": "1000",
           "BRIDGE_METADATA_LINGER_SECONDS": os.environ.get("BRIDGE_METADATA_LINGER_SECONDS", "5")}
    worker = None
    try:
        subprocess.run([str(BIN / "bridge"), "migrate"], env=env, check=True, capture_output=True)
        worker = subprocess.Popen([str(BIN / "bridge"), "worker"], env=env, cwd=workdir,
                                  stdout=(workdir / "worker.log").open("w"), stderr=subprocess.STDOUT)
        started = time.monotonic()
        sync = subprocess.Popen([str(BIN / "bridge"), "sync", "stripe"], env=env, cwd=workdir,
                                stdout=subprocess.PIPE, stderr=(workdir / "sync.log").open("w"), text=True)
        samples = []
        while sync.poll() is None:
            samples.append(rss_kib(sync.pid))
            time.sleep(0.5)
        sync_seconds = time.monotonic() - started
        report = json.loads((sync.stdout.read() if sync.stdout else "").strip().splitlines()[-1])
        while delivered_accounts(db) < count and time.monotonic() - started < 1800:
            time.sleep(1)
        total_seconds = time.monotonic() - started
        delivered = delivered_accounts(db)
        stripe_requests = requests.get(f"{stripe_url}/_fake/state", timeout=10).json()["requests"]
        pendo_state = requests.get(f"{pendo_url}/_fake/state", timeout=10).json()
    finally:
        for process in (worker, stripe, pendo):
            if process is not None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
    samples = [s for s in samples if s]
    quarter = max(len(samples) // 4, 1)
    return {
        "subscriptions": count, "accounts_delivered": delivered, "sync_report": report,
        "stripe_requests": stripe_requests, "stripe_target": -(-count // 100),
        "pendo_calls": pendo_state["metadata_requests"], "pendo_requests_all": pendo_state["requests"],
        "pendo_target": -(-count // 500) + 1,
        "rss_kb_first_quarter_max": max(samples[:quarter], default=0),
        "rss_kb_last_quarter_max": max(samples[-quarter:], default=0), "rss_samples": len(samples),
        "sync_seconds": round(sync_seconds, 1), "sync_subscriptions_per_s": round(count / sync_seconds),
        "until_all_delivered_seconds": round(total_seconds, 1), "stripe_requests_per_second": stripe_rps,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/sync.py")
    parser.add_argument("--subscriptions", type=int, default=50_000)
    parser.add_argument("--stripe-rps", type=float, default=50.0, help="STRIPE_REQUESTS_PER_SECOND for the sync")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bridge-bench-sync-") as workdir:
        figures = run(args.subscriptions, args.stripe_rps, Path(workdir))
    print(json.dumps(figures, indent=None if args.json else 2))
    met = (figures["accounts_delivered"] == args.subscriptions
           and figures["stripe_requests"] <= figures["stripe_target"] + 1
           and figures["pendo_calls"] <= figures["pendo_target"] + 1  # + the worker's key check at start
           and figures["rss_kb_last_quarter_max"] <= figures["rss_kb_first_quarter_max"] * 1.2 + 10_000)
    print("targets met" if met else "a target was missed", file=sys.stderr)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
