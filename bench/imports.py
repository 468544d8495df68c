"""Import benchmark: `bridge import accounts FILE` of N accounts with a worker and a fake Pendo, then again.

    .venv/bin/python bench/imports.py [--rows 100000] [--database URL] [--json] [--keep]

Writes a CSV of N accounts (plan, seats, active), starts `python -m tests.fakes.pendo` and one `bridge worker` on
a fresh SQLite file (or `--database`, the URL of an empty PostgreSQL database), runs the import while sampling
its RSS, waits until every account's values reached the fake, then imports the same file again and counts the
Pendo calls that caused. Targets: at least 2,000 rows/s into the store, at most N/500 bulk metadata calls, the
import's memory flat, and 0 Pendo calls for the second import. Exit code 0 targets met, 1 a target missed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from processes import rss_kib
from sqlalchemy import create_engine, text

from bridge.settings import normalise_database_url

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LINGER_S = 1.0  # BRIDGE_METADATA_LINGER_SECONDS, the default


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["accountId", "plan", "seats", "active"])
        for n in range(rows):
            out.writerow([f"acct-{n:07d}", ("team", "pro", "enterprise")[n % 3], n % 200 + 1, "yes" if n % 2 else "no"])


def start_pendo() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-m", "tests.fakes.pendo"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def delivered_accounts(url: str) -> int:
    engine = create_engine(normalise_database_url(url))
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(
                "select count(*) from (select entity_id from field_values where kind = 'account' group by entity_id"
                " having sum(case when state = 'delivered' then 0 else 1 end) = 0) as done")).scalar_one())
    finally:
        engine.dispose()


def pendo_state(url: str) -> dict[str, Any]:
    return dict(requests.get(f"{url}/_fake/state", timeout=10).json())


def run_import(env: dict[str, str], workdir: Path, path: Path) -> dict[str, Any]:
    """One `bridge import` with its wall time, its summary and its RSS sampled every 0.2 s."""
    started = time.monotonic()
    process = subprocess.Popen([str(BIN / "bridge"), "import", "accounts", str(path), "--type", "active=boolean"],
                               env=env, cwd=workdir, stdout=subprocess.PIPE,
                               stderr=(workdir / "import.log").open("a"), text=True)
    samples = []
    while process.poll() is None:
        samples.append(rss_kib(process.pid))
        time.sleep(0.2)
    seconds = time.monotonic() - started
    output = process.stdout.read() if process.stdout else ""
    if process.returncode != 0:
        raise SystemExit(f"bridge import failed ({process.returncode}); see {workdir / 'import.log'}")
    samples = [s for s in samples if s]
    quarter = max(len(samples) // 4, 1)
    return {"seconds": round(seconds, 2), "summary": json.loads(output.strip().splitlines()[-1]),
            "rss_kib_first_quarter_max": max(samples[:quarter], default=0),
            "rss_kib_last_quarter_max": max(samples[-quarter:], default=0), "rss_samples": len(samples)}


def run(rows: int, database: str | None, workdir: Path) -> dict[str, Any]:
    path = workdir / "accounts.csv"
    write_csv(path, rows)
    url = database or f"sqlite:///{workdir / 'bridge.db'}"
    pendo, pendo_url = start_pendo()
    env = {**os.environ, "DATABASE_URL": url, "STRIPE_WEBHOOK_SECRET": "whsec_bench", "PENDO_BASE_URL": pendo_url,
           "PENDO_INTEGRATION_KEY": "test-integration-key", "BRIDGE_MAPPINGS_DIR": str(ROOT / "mappings"),
           "BRIDGE_LOG_FORMAT": "json"}
    worker = None
    try:
        subprocess.run([str(BIN / "bridge"), "migrate"], env=env, check=True, capture_output=True)
        worker = subprocess.Popen([str(BIN / "bridge"), "worker"], env=env, cwd=workdir,
                                  stdout=(workdir / "worker.log").open("w"), stderr=subprocess.STDOUT)
        before = pendo_state(pendo_url)
        first = run_import(env, workdir, path)
        started = time.monotonic()
        while delivered_accounts(url) < rows and time.monotonic() - started < 1800:
            time.sleep(1)
        first["delivered_after_import_s"] = round(time.monotonic() - started, 1)
        first["accounts_delivered"] = delivered_accounts(url)
        after_first = pendo_state(pendo_url)
        second = run_import(env, workdir, path)
        time.sleep(LINGER_S + 3)  # anything the second import made due would have gone by now
        after_second = pendo_state(pendo_url)
    finally:
        for process in (worker, pendo):
            if process is not None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
    return {
        "rows": rows, "database": "sqlite" if database is None else "given", "cores": os.cpu_count(),
        "first": {**first, "rows_per_s": round(rows / first["seconds"]),
                  "pendo_metadata_calls": after_first["metadata_requests"] - before["metadata_requests"],
                  "pendo_requests_all": after_first["requests"] - before["requests"]},
        "second": {**second, "rows_per_s": round(rows / second["seconds"]),
                   "pendo_requests_all": after_second["requests"] - after_first["requests"]},
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/imports.py")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database", help="the DATABASE_URL of an empty database instead of a fresh SQLite file")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    load = round(os.getloadavg()[0], 2)
    workdir = Path(tempfile.mkdtemp(prefix="bridge-bench-import-"))
    figures = {**run(args.rows, args.database, workdir), "load_before": load}
    if args.keep:
        print(f"kept {workdir}", file=sys.stderr)
    first, second = figures["first"], figures["second"]
    figures["verdict"] = {
        "rows_per_s_at_least_2000": first["rows_per_s"] >= 2000,
        "metadata_calls_at_most_rows_per_500": first["pendo_metadata_calls"] <= -(-args.rows // 500),
        "all_delivered": first["accounts_delivered"] == args.rows,
        "memory_flat": first["rss_kib_last_quarter_max"] <= first["rss_kib_first_quarter_max"] * 1.2 + 10_000,
        "second_import_no_pendo_call": second["pendo_requests_all"] == 0 and second["summary"]["changed_entities"] == 0,
    }
    print(json.dumps(figures, indent=None if args.json else 2))
    met = all(figures["verdict"].values())
    print("targets met" if met else "a target was missed", file=sys.stderr)
    if not args.keep:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
