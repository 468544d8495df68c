"""Worker memory benchmark: a real `bridge worker` draining 10,000 stored Stripe events to a fake Pendo.

It stores realistic signed events (20 % customer.subscription.created, 60 % customer.subscription.updated,
20 % invoice.paid over 2,000 accounts) through the ingest path minus HTTP: each body is signed, verified and
parsed by `StripeProvider`, then committed one by one with `Store.ingest` (faster than posting them to gunicorn,
and the same rows). Then it starts a fake Pendo process and a `bridge worker` process on the SQLite file, samples
the worker's RSS (VmRSS) every 0.5 s until everything is delivered, and compares the RSS after the first 1,000
events with the RSS at the end: "flat" when the end is within +10 %.

    .venv/bin/python bench/worker_memory.py [--events 10000] [--accounts 2000] [--latency 0] [--json] [--keep]

Exit codes: 0 flat, 1 the RSS grew more than 10 %, 2 the benchmark could not run (or the drain took > 10 min).
"""

from __future__ import annotations

import argparse
import json
import random
import select
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import stripe

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: import bridge from this checkout

from processes import rss_kib, stop  # noqa: E402

from bridge.providers.stripe.webhook import StripeProvider  # noqa: E402
from bridge.settings import load_settings  # noqa: E402
from bridge.store.db import make_engine  # noqa: E402
from bridge.store.store import Store  # noqa: E402

BIN = Path(sys.executable).parent
SECRET = "whsec_bench_worker_memory"
INTEGRATION_KEY, TRACK_SECRET = "bench-integration-key", "bench-track-secret"
SAMPLE_EVERY_S = 0.5
DRAIN_LIMIT_S = 600.0  # stop with an error past 10 minutes
BOOT_LIMIT_S = 20.0
FIRST_EVENTS = 1000
FLAT_GROWTH = 0.10
MIX = ("customer.subscription.created",) * 2 + ("customer.subscription.updated",) * 6 + ("invoice.paid",) * 2
INGEST_PATH = "StripeProvider.verify + parse, then Store.ingest (one commit per event), no HTTP"


class BenchError(Exception):
    """The benchmark could not run, or the drain did not finish in time."""


# The events.

def price(interval: str, amount: int) -> dict[str, Any]:
    return {
        "id": f"price_bench_{interval}_{amount}", "object": "price", "active": True, "billing_scheme": "per_unit",
        "currency": "usd", "livemode": True, "lookup_key": f"pro_{interval}ly", "metadata": {}, "nickname": "Pro",
        "product": "prod_bench_pro", "recurring": {"interval": interval, "interval_count": 1, "meter": None,
                                                   "usage_type": "licensed"},
        "tax_behavior": "exclusive", "tiers_mode": None, "type": "recurring", "unit_amount": amount,
        "unit_amount_decimal": str(amount),
    }


def identity(account: int) -> dict[str, str]:
    return {"pendo_account_id": f"acct-{account:05d}", "pendo_visitor_id": f"owner-{account:05d}@example.com"}


def subscription(account: int, now: int, rng: random.Random) -> dict[str, Any]:
    """A subscription as Stripe sends it since 2025-03-31 (periods on the item), with varying seats and plan."""
    interval = rng.choice(("month", "month", "month", "year"))
    sub = f"sub_bench{account:05d}"
    item = {"id": f"si_bench{account:05d}", "object": "subscription_item", "created": now - 86400 * 40,
            "discounts": [], "metadata": {}, "price": price(interval, rng.choice((1900, 4900, 9900))),
            "quantity": rng.randint(1, 50), "subscription": sub, "tax_rates": [],
            "current_period_start": now - 86400 * 9, "current_period_end": now + 86400 * 21}
    return {
        "id": sub, "object": "subscription", "application": None, "automatic_tax": {"enabled": False},
        "billing_cycle_anchor": now - 86400 * 40, "cancel_at": None,
        "cancel_at_period_end": rng.random() < 0.05, "canceled_at": None,
        "collection_method": "charge_automatically", "created": now - 86400 * 40, "currency": "usd",
        "customer": f"cus_bench{account:05d}", "days_until_due": None, "default_payment_method": None,
        "description": None, "discounts": [], "ended_at": None,
        "items": {"object": "list", "data": [item], "has_more": False, "total_count": 1,
                  "url": f"/v1/subscription_items?subscription={sub}"},
        "latest_invoice": f"in_bench{account:05d}", "livemode": True, "metadata": identity(account),
        "pending_update": None, "schedule": None, "start_date": now - 86400 * 40,
        "status": rng.choice(("active",) * 8 + ("trialing", "past_due")), "trial_end": None, "trial_start": None,
    }


def invoice(account: int, n: int, now: int, rng: random.Random) -> dict[str, Any]:
    """A paid subscription invoice in the 2025-03-31 shape (subscription metadata under `parent`)."""
    amount = rng.choice((1900, 4900, 9900)) * rng.randint(1, 10)
    return {
        "id": f"in_bench{n:07d}", "object": "invoice", "account_country": "US", "amount_due": amount,
        "amount_paid": amount, "amount_remaining": 0, "attempt_count": 1, "attempted": True,
        "billing_reason": "subscription_cycle", "collection_method": "charge_automatically", "currency": "usd",
        "customer": f"cus_bench{account:05d}", "customer_email": f"billing-{account:05d}@example.com",
        "livemode": True, "metadata": {}, "number": f"BENCH-{n:07d}", "paid": True,
        "parent": {"type": "subscription_details", "quote_details": None,
                   "subscription_details": {"subscription": f"sub_bench{account:05d}", "metadata": identity(account)}},
        "period_end": now, "period_start": now - 86400 * 30, "status": "paid",
        "status_transitions": {"finalized_at": now - 60, "paid_at": now - 30, "voided_at": None},
        "subtotal": amount, "total": amount,
    }


def event(n: int, accounts: int, now: int, rng: random.Random) -> dict[str, Any]:
    """Event `n` of the mix, for a random account, its `created` one second after the previous event's."""
    kind, account = MIX[n % len(MIX)], rng.randrange(accounts)
    created = now - 3600 + n // 10  # within Pendo's 7-day track window, in order
    obj = invoice(account, n, created, rng) if kind == "invoice.paid" else subscription(account, created, rng)
    data: dict[str, Any] = {"object": obj}
    if kind == "customer.subscription.updated":
        data["previous_attributes"] = {"items": {"data": [{"id": obj["items"]["data"][0]["id"], "quantity": 1}]}}
    return {
        "id": f"evt_bench{n:08d}", "object": "event", "api_version": "2025-03-31.basil", "created": created,
        "data": data, "livemode": True, "pending_webhooks": 1, "type": kind,
        "request": {"id": f"req_bench{n:08d}", "idempotency_key": None},
    }


# The processes.

def service_env(workdir: Path, database: Path, pendo_url: str, pendo_rps: float | None) -> dict[str, str]:
    env = {
        "PATH": str(BIN), "HOME": str(workdir), "DATABASE_URL": f"sqlite:///{database}",
        "STRIPE_WEBHOOK_SECRET": SECRET, "PENDO_BASE_URL": pendo_url, "PENDO_INTEGRATION_KEY": INTEGRATION_KEY,
        "PENDO_TRACK_EVENT_SECRET": TRACK_SECRET, "BRIDGE_MAPPINGS_DIR": str(ROOT / "mappings"),
        "BRIDGE_LOG_FORMAT": "json",
    }
    if pendo_rps is not None:
        env["PENDO_REQUESTS_PER_SECOND"] = str(pendo_rps)
    return env


def start_pendo(workdir: Path, latency: float) -> tuple[subprocess.Popen[str], str]:
    """The fake Pendo as its own process; it prints its URL first."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.pendo", "--host", "127.0.0.1", "--port", "0", "--latency", str(latency),
         "--integration-key", INTEGRATION_KEY, "--track-secret", TRACK_SECRET],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=(workdir / "pendo.log").open("ab"), text=True)
    ready, _, _ = select.select([process.stdout], [], [], BOOT_LIMIT_S)
    line = process.stdout.readline().strip() if ready and process.stdout else ""
    if not line.startswith("http://127.0.0.1:"):
        stop(process)
        raise BenchError(f"the fake Pendo did not print its URL within {BOOT_LIMIT_S:.0f} s; see {workdir}/pendo.log")
    return process, line


def migrate(env: dict[str, str], workdir: Path) -> None:
    result = subprocess.run([str(BIN / "bridge"), "migrate"], env=env, cwd=workdir, capture_output=True,
                            timeout=120, check=False)
    if result.returncode != 0:
        raise BenchError(f"bridge migrate failed: {result.stderr.decode(errors='replace')[-2000:]}")


def ingest(env: dict[str, str], count: int, accounts: int, seed: int) -> float:
    """Sign, verify, parse and store `count` events; return the seconds it took."""
    settings = load_settings(env)
    provider, store = StripeProvider(settings.stripe_webhook_secrets), Store(make_engine(settings))
    rng, now, started = random.Random(seed), int(time.time()), time.monotonic()
    for n in range(count):
        body = json.dumps(event(n, accounts, now, rng), indent=2)
        header = stripe.WebhookSignature.generate_signature_header(body, SECRET, timestamp=int(time.time()))
        provider.verify(body.encode(), {"stripe-signature": header}, time.time())
        if store.ingest(provider.parse(body.encode()), time.time(), raw=body):
            raise BenchError(f"event {n} was stored twice")
    store.engine.dispose()
    return time.monotonic() - started



# The measurement.

@dataclass
class Sample:
    seconds: float
    rss_kib: int
    mapped: int  # events no longer waiting for the worker
    undelivered: int  # outbox rows still to send


@dataclass
class Drain:
    samples: list[Sample] = field(default_factory=list)
    seconds: float = 0.0
    exit_code: int | None = None



def progress(database: Path) -> tuple[int, int]:
    """(events the worker has taken out of `received`, outbox rows still pending), read-only."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    try:
        mapped = connection.execute("select count(*) from events where status != 'received'").fetchone()[0]
        pending = sum(connection.execute(f"select count(*) from {table} where state = 'pending'")  # noqa: S608
                      .fetchone()[0] for table in ("field_values", "track_events"))  # constant names
    finally:
        connection.close()
    return int(mapped), int(pending)


def drain(env: dict[str, str], workdir: Path, database: Path, count: int) -> Drain:
    """Run `bridge worker` until every event is mapped and nothing is pending, sampling its RSS."""
    log = (workdir / "worker.log").open("ab")
    process = subprocess.Popen([str(BIN / "bridge"), "worker"], env=env, cwd=workdir, stdout=log,
                               stderr=subprocess.STDOUT)
    result, started = Drain(), time.monotonic()
    try:
        for _ in range(int(DRAIN_LIMIT_S / SAMPLE_EVERY_S) + 1):
            if process.poll() is not None:
                raise BenchError(f"the worker exited with {process.returncode}; see {workdir}/worker.log")
            mapped, pending = progress(database)
            result.samples.append(Sample(time.monotonic() - started, rss_kib(process.pid), mapped, pending))
            if mapped >= count and pending == 0:
                result.seconds = time.monotonic() - started
                return result
            time.sleep(SAMPLE_EVERY_S)
        raise BenchError(f"the drain took more than {DRAIN_LIMIT_S:.0f} s ({mapped}/{count} events mapped, "
                         f"{pending} outbox rows pending); see {workdir}/worker.log")
    finally:
        stop(process)
        result.exit_code = process.returncode
        log.close()


def final_counts(database: Path) -> dict[str, dict[str, int]]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    query = "select {0}, count(*) from {1} group by {0}"  # constant table and column names only
    try:
        return {table: dict(connection.execute(query.format(column, table)).fetchall())
                for table, column in (("events", "status"), ("field_values", "state"), ("track_events", "state"))}
    finally:
        connection.close()


def report(args: argparse.Namespace, ingest_seconds: float, result: Drain, counts: dict[str, Any]) -> dict[str, Any]:
    first = next((s for s in result.samples if s.mapped >= min(FIRST_EVENTS, args.events)), result.samples[-1])
    end = result.samples[-1]
    growth = (end.rss_kib - first.rss_kib) / first.rss_kib
    return {
        "ingest_path": INGEST_PATH, "events": args.events, "accounts": args.accounts,
        "pendo_latency_s": args.latency, "pendo_requests_per_second": args.pendo_rps or "service default",
        "ingest_seconds": round(ingest_seconds, 1), "drain_seconds": round(result.seconds, 1),
        "drain_events_per_second": round(args.events / result.seconds, 1),
        "rss_after_first_1000_kib": first.rss_kib, "rss_after_first_1000_at_s": round(first.seconds, 1),
        "rss_end_kib": end.rss_kib, "rss_max_kib": max(s.rss_kib for s in result.samples),
        "rss_growth_pct": round(growth * 100, 1), "samples": len(result.samples),
        "worker_exit_code_on_sigterm": result.exit_code, "final_counts": counts,
        "verdict": "flat" if growth <= FLAT_GROWTH else "grows",
    }


def print_table(figures: dict[str, Any]) -> None:
    mib = 1024
    print(f"ingest: {figures['ingest_path']}")
    print(f"{figures['events']} events over {figures['accounts']} accounts stored in {figures['ingest_seconds']} s")
    print(f"drain: {figures['drain_seconds']} s = {figures['drain_events_per_second']} events/s "
          f"(Pendo latency {figures['pendo_latency_s']} s, budget {figures['pendo_requests_per_second']} req/s)")
    print(f"RSS after the first {FIRST_EVENTS} events: {figures['rss_after_first_1000_kib'] / mib:.1f} MiB "
          f"(at {figures['rss_after_first_1000_at_s']} s)")
    print(f"RSS at the end: {figures['rss_end_kib'] / mib:.1f} MiB ({figures['rss_growth_pct']:+.1f} %), "
          f"max {figures['rss_max_kib'] / mib:.1f} MiB over {figures['samples']} samples")
    print(f"final states: {json.dumps(figures['final_counts'], sort_keys=True)}")
    print(f"worker exit code after SIGTERM: {figures['worker_exit_code_on_sigterm']}")
    print(f"verdict: {figures['verdict']} (flat = end within +{FLAT_GROWTH:.0%} of the RSS after {FIRST_EVENTS})")


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    database = workdir / "bridge.db"
    pendo, pendo_url = start_pendo(workdir, args.latency)
    try:
        env = service_env(workdir, database, pendo_url, args.pendo_rps)
        migrate(env, workdir)
        ingest_seconds = ingest(env, args.events, args.accounts, args.seed)
        result = drain(env, workdir, database, args.events)
        return report(args, ingest_seconds, result, final_counts(database))
    finally:
        stop(pendo)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--accounts", type=int, default=2_000)
    parser.add_argument("--latency", type=float, default=0.0, help="the fake Pendo's latency per request, seconds")
    parser.add_argument("--pendo-rps", type=float, default=None, help="PENDO_REQUESTS_PER_SECOND (default: unset)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (database, logs)")
    args = parser.parse_args(argv)
    if args.events < 1 or args.accounts < 1:
        parser.error("--events and --accounts must be at least 1")
    workdir = Path(tempfile.mkdtemp(prefix="bridge-worker-memory-"))
    try:
        figures = run(args, workdir)
    except BenchError as exc:
        hint = "" if args.keep else " (run again with --keep to keep the logs)"
        print(f"worker_memory: {exc}{hint}", file=sys.stderr)
        return 2
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, sort_keys=True))
    else:
        print_table(figures)
    if args.keep:
        print(f"kept {workdir}", file=sys.stderr)
    return 0 if figures["verdict"] == "flat" else 1


if __name__ == "__main__":
    sys.exit(main())
