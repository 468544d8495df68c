"""Delivery benchmark: a backlog of subscription updates drained by one `bridge worker` into a fake Pendo.

Seeds `--accounts` x `--versions` `customer.subscription.updated` events straight into a fresh SQLite store
(`Store.ingest_many`, 1,000 per transaction), starts the fake Pendo (`python -m tests.fakes.pendo --latency`) and
a `bridge worker` process, and measures until every event is mapped and every value delivered: drain time, Pendo
calls (and per 1,000 events), requests per second against `PENDO_REQUESTS_PER_SECOND`, and the worker's VmRSS
sampled every second (flat = within ±10 % after the first 10 % of the drain).

    .venv/bin/python bench/delivery.py                       # 20,000 accounts x 5, budget 20/s: mapping-bound
    .venv/bin/python bench/delivery.py --rate 1              # the budget is the limit (see bench/README.md)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from processes import rss_kib  # noqa: E402

from bridge.providers.stripe.webhook import StripeProvider  # noqa: E402
from bridge.settings import Settings  # noqa: E402
from bridge.store.db import make_engine, migrate  # noqa: E402
from bridge.store.store import Incoming, Store  # noqa: E402
from tests.e2e.harness import stripe_event  # noqa: E402
from tests.e2e.payloads import subscription  # noqa: E402

KEY, TRACK = "bench-key", "bench-track"
DRAIN_LIMIT_S = 1800


def seed(database: Path, accounts: int, versions: int) -> int:
    settings = Settings(database_url=f"sqlite:///{database}")
    migrate(settings)
    store, parse = Store(make_engine(settings)), StripeProvider(("whsec_x",), 300).parse
    base, batch, count = int(time.time()) - 3600, [], 0
    for version in range(versions):  # version-major: every account changes, then every account again...
        for account in range(accounts):
            obj = subscription(account=f"acct-{account}", quantity=version + 1, sub_id=f"sub_{account}",
                               customer=f"cus_{account}")
            body = json.dumps(stripe_event("customer.subscription.updated", obj, created=base + version)).encode()
            batch.append(Incoming(parse(body), time.time(), raw=body.decode()))
            if len(batch) == 1000:
                count += sum(not d for d in store.ingest_many(batch))
                batch = []
    count += sum(not d for d in store.ingest_many(batch)) if batch else 0
    store.engine.dispose()
    return count


def remaining(database: Path) -> tuple[int, int]:
    with sqlite3.connect(database, timeout=30) as connection:
        events = connection.execute("SELECT count(*) FROM events WHERE status = 'received'").fetchone()[0]
        values = connection.execute(
            "SELECT count(*) FROM field_values WHERE state NOT IN ('delivered', 'failed', 'held')").fetchone()[0]
    return int(events), int(values)



def fake_state(url: str) -> dict[str, int]:
    return dict(requests.get(f"{url}/_fake/state", timeout=10).json())


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    database = workdir / "bench.db"
    started = time.perf_counter()
    seeded = seed(database, args.accounts, args.versions)
    seed_s = time.perf_counter() - started
    fake = subprocess.Popen([sys.executable, "-m", "tests.fakes.pendo", "--latency", str(args.latency),
                             "--integration-key", KEY, "--track-secret", TRACK],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    worker = None
    try:
        assert fake.stdout is not None
        url = fake.stdout.readline().strip()
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "STRIPE_WEBHOOK_SECRET": "whsec_x",
               "PENDO_BASE_URL": url, "PENDO_INTEGRATION_KEY": KEY, "PENDO_TRACK_EVENT_SECRET": TRACK,
               "BRIDGE_MAPPINGS_DIR": str(ROOT / "mappings"), "PENDO_REQUESTS_PER_SECOND": str(args.rate),
               "BRIDGE_LOG_FORMAT": "json"}
        with (workdir / "worker.log").open("w") as log:
            worker = subprocess.Popen([str(Path(sys.executable).parent / "bridge"), "worker"], env=env, cwd=workdir,
                                      stdout=log, stderr=subprocess.STDOUT)
            start, samples = time.perf_counter(), []
            while time.perf_counter() - start < DRAIN_LIMIT_S:
                time.sleep(1)
                samples.append((time.perf_counter() - start, rss_kib(worker.pid)))
                if remaining(database) == (0, 0):
                    break
            drain_s = time.perf_counter() - start
            state = fake_state(url)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        fake.terminate()
        fake.wait(30)
    return report(args, seeded, seed_s, drain_s, state, samples)


def report(args: argparse.Namespace, seeded: int, seed_s: float, drain_s: float, state: dict[str, Any],
           samples: list[tuple[float, int]]) -> dict[str, Any]:
    calls = int(state["metadata_requests"])
    sending_s = max((state["metadata_last_at"] or 0) - (state["metadata_first_at"] or 0), 1e-9)
    per_s = (calls - 1) / sending_s if calls > 1 else 0.0  # requests between the first and the last
    steady = [kib for t, kib in samples if t >= drain_s * 0.1] or [0]
    middle = sorted(steady)[len(steady) // 2]
    return {
        "events": seeded, "accounts": args.accounts, "versions": args.versions, "latency_s": args.latency,
        "budget_per_s": args.rate, "seed_s": round(seed_s, 1), "drain_s": round(drain_s, 1),
        "events_per_s": round(seeded / drain_s, 1),
        "pendo_calls": calls, "calls_per_1000_events": round(calls * 1000 / max(seeded, 1), 2),
        "calls_per_s_while_sending": round(per_s, 2), "budget_used_while_sending": round(per_s / args.rate, 3),
        "max_requests_in_one_second": state["max_data_requests_in_one_second"],
        "rss_kib_min_max_median": [min(steady), max(steady), middle],
        "rss_within_10pct": max(steady) <= middle * 1.1 and min(steady) >= middle * 0.9,
        "targets": {"calls_max": 500, "calls_ok": calls <= 500, "budget_used_min": 0.8,
                    "budget_ok": per_s >= 0.8 * args.rate},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--rate", type=float, default=20.0, help="PENDO_REQUESTS_PER_SECOND")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bridge-delivery-bench-"))
    try:
        print(json.dumps(run(args, workdir), indent=2))
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
