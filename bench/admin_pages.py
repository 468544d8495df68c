"""Admin console page times at scale: seeds 1,000,000 events (and their outbox rows) and times each page.

    .venv/bin/python bench/admin_pages.py                       # SQLite file in a temporary folder
    .venv/bin/python bench/admin_pages.py --events 200000 --keep
    .venv/bin/python bench/admin_pages.py --postgres postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/admin_pages.py --database sqlite:///big.db --reuse   # time an already seeded file

The data (see bench/README.md): events spread over the last 30 days (the default retention), 90 % `stripe`
and 10 % a second provider, a dozen types, statuses as a busy deployment has them (mostly mapped, some unmapped,
ignored, unresolved, failed, a few still waiting), 50,000 customers each with one account, ten account fields per
account, a track event for every third event, a few hundred failed and held rows, and a day of delivery counts.
Each page is requested through the app (Flask's test client, logged in) `--runs` times after one warm-up; the
table shows the median and the slowest run. Exit code: 0 every page under `--target-ms` (median), 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.settings import Settings, normalise_database_url  # noqa: E402
from bridge.store.db import make_engine, migrate  # noqa: E402
from bridge.store.schema import delivery_minutes, events, field_values, track_events  # noqa: E402

PASSWORD = "bench-admin-password"
DAY = 86_400.0
CUSTOMERS = 50_000
FIELDS = ("billing_plan", "billing_status", "mrr", "billing_currency", "billing_interval", "seats", "delinquent",
          "current_period_end", "last_payment_at", "last_payment_amount")
TYPES = (("customer.subscription.updated", 30), ("invoice.paid", 20), ("invoice.payment_succeeded", 10),
         ("customer.updated", 10), ("customer.subscription.created", 6), ("invoice.payment_failed", 4),
         ("charge.succeeded", 8), ("payment_intent.succeeded", 6), ("customer.subscription.deleted", 2),
         ("checkout.session.completed", 2), ("charge.refunded", 1), ("charge.dispute.created", 1))
STATUSES = (("mapped", 900), ("unmapped", 50), ("ignored", 20), ("unresolved", 10), ("failed", 5),
            ("received", 15))
CHUNK = 10_000


def _weighted(pairs: tuple[tuple[str, int], ...], count: int, rng: random.Random) -> list[str]:
    names, weights = zip(*pairs, strict=True)
    return rng.choices(names, weights=weights, k=count)


def _payload(event_id: str, event_type: str, customer: str, account: str, created: int) -> str:
    """A Stripe-shaped event of about 1.2 KB: the list pages never read it, the event page does."""
    return json.dumps({
        "id": event_id, "object": "event", "type": event_type, "api_version": "2025-03-31.basil",
        "created": created, "livemode": True, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": {
            "id": "sub_" + event_id[4:], "object": "subscription", "customer": customer, "status": "active",
            "currency": "usd", "cancel_at_period_end": False, "collection_method": "charge_automatically",
            "metadata": {"pendo_account_id": account, "pendo_visitor_id": f"owner@{account}.example"},
            "items": {"object": "list", "data": [{
                "id": "si_" + event_id[4:], "object": "subscription_item", "quantity": 3,
                "current_period_start": created, "current_period_end": created + 2_592_000,
                "price": {"id": "price_pro", "object": "price", "currency": "usd", "lookup_key": "pro_monthly",
                          "nickname": "Pro", "unit_amount": 4900, "type": "recurring",
                          "recurring": {"interval": "month", "interval_count": 1}}}]},
            "customer_email": "billing@example.com", "customer_name": "Example Customer"}},
    })


def _event_rows(count: int, now: float, rng: random.Random) -> Iterator[list[dict[str, Any]]]:
    times = sorted(now - rng.random() * 30 * DAY for _ in range(count))
    types, statuses = _weighted(TYPES, count, rng), _weighted(STATUSES, count, rng)
    for start in range(0, count, CHUNK):
        chunk = []
        for index in range(start, min(start + CHUNK, count)):
            number = rng.randrange(CUSTOMERS)
            customer, account = f"cus_{number:08d}", f"acct-{number:05d}"
            status = statuses[index]
            event_id = f"evt_{index:010d}"
            received = times[index]
            chunk.append({
                "provider": "stripe" if index % 10 else "paddle", "event_id": event_id, "type": types[index],
                "created": received - 1.0, "livemode": True, "api_version": "2025-03-31.basil",
                "customer_id": customer, "account_id": account if status == "mapped" else None,
                "payload": _payload(event_id, types[index], customer, account, int(received)),
                "received_at": received, "status": status, "detail": _detail(status),
                "attempts": 0, "next_attempt_at": 0.0, "processed_at": None if status == "received" else received + 0.5,
                "mapping_version": "0123456789ab", "request_id": f"req{index}",
            })
        yield chunk


def _detail(status: str) -> str | None:
    return {
        "mapped": json.dumps({"matched": ["subscription-fields"], "unresolved": [], "warnings": []}),
        "unresolved": json.dumps({"matched": ["subscription-fields"], "unresolved": ["subscription-fields"],
                                  "warnings": []}),
        "failed": json.dumps({"error": "KeyError: 'items'"}),
        "ignored": "test mode event; STRIPE_MODE=live",
    }.get(status)


def _field_rows(now: float, rng: random.Random) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for number in range(CUSTOMERS):
        for name in FIELDS:
            state = "delivered"
            roll = rng.random()
            if roll < 0.001:
                state = "failed"
            elif roll < 0.002:
                state = "held"
            elif roll < 0.004:
                state = "pending"
            chunk.append({
                "kind": "account", "entity_id": f"acct-{number:05d}", "field": name, "value": json.dumps("Pro"),
                "source_time": int((now - rng.random() * 30 * DAY) * 1000), "rank": 0,
                "event_id": f"evt_{rng.randrange(10**6):010d}", "mapping_version": "0123456789ab",
                "create_allowed": False, "version": 2, "sent_version": 2 if state == "delivered" else 1,
                "state": state, "attempts": 1 if state != "delivered" else 0, "next_attempt_at": now,
                "reclaims": 0, "updated_at": now - rng.random() * DAY,
                "last_error": {"failed": "Pendo answered 400: bad value", "held": "field unknown to Pendo"}.get(state),
            })
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _track_rows(count: int, now: float, rng: random.Random) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for index in range(0, count, 3):
        state = "failed" if rng.random() < 0.001 else "delivered"
        chunk.append({
            "event_id": f"evt_{index:010d}", "rule": "invoice-paid",
            "payload": json.dumps({"type": "track", "event": "Invoice Paid", "visitorId": "owner@example.com",
                                   "accountId": "acct-00001", "timestamp": int(now * 1000), "properties": {}}),
            "timestamp_ms": int(now * 1000), "mapping_version": "0123456789ab", "state": state,
            "attempts": 1, "next_attempt_at": now, "reclaims": 0, "created_at": now - rng.random() * 30 * DAY,
            "delivered_at": now if state == "delivered" else None,
            "last_error": "Pendo answered 400: invalid event" if state == "failed" else None,
        })
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def seed(engine: Engine, count: int, now: float, seed_value: int = 7) -> None:
    """Fill a migrated, empty database."""
    rng = random.Random(seed_value)
    for table, chunks in ((events, _event_rows(count, now, rng)), (field_values, _field_rows(now, rng)),
                          (track_events, _track_rows(count, now, rng))):
        for chunk in chunks:
            with engine.begin() as connection:
                connection.execute(insert(table), chunk)
        print(f"  seeded {table.name}", file=sys.stderr, flush=True)
    minutes = [{"minute": int(now // 60) - m, "delivered": rng.randrange(0, 40)} for m in range(24 * 60)]
    with engine.begin() as connection:
        connection.execute(insert(delivery_minutes), minutes)
    if engine.dialect.name == "postgresql":  # what autovacuum does after a bulk load: statistics, visibility map
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    # SQLite: no ANALYZE, as bridge never runs it: the pages must be fast without statistics


def pages(engine: Engine) -> list[tuple[str, str]]:
    """The pages to time: (label, path); ids are taken from the seeded data."""
    with engine.connect() as connection:
        middle = connection.execute(select(events.c.received_at).order_by(events.c.id)
                                    .offset(connection.execute(select(events.c.id).order_by(events.c.id.desc())
                                                               .limit(1)).scalar_one() // 2).limit(1)).scalar_one()
        sample = connection.execute(select(events.c.provider, events.c.event_id, events.c.customer_id)
                                    .where(events.c.status == "mapped").limit(1)).one()
    since, until = int(middle), int(middle) + 3600
    return [
        ("overview", "/admin/"),
        ("events, newest", "/admin/events"),
        ("events, status=failed", "/admin/events?status=failed"),
        ("events, type=charge.refunded", "/admin/events?type=charge.refunded"),
        ("events, provider=paddle", "/admin/events?provider=paddle"),
        ("events, customer", f"/admin/events?customer={sample.customer_id}"),
        ("events, account", "/admin/events?account=acct-00042"),
        ("events, one hour 15 days ago", f"/admin/events?since={since}&until={until}"),
        ("events, unresolved + invoice.paid", "/admin/events?status=unresolved&type=invoice.paid"),
        ("event", f"/admin/events/{sample.provider}/{sample.event_id}"),
        ("account", "/admin/accounts/acct-00042"),
        ("failures", "/admin/failures"),
        ("mappings", "/admin/mappings"),
    ]


def _time_pages(settings: Settings, engine: Engine, runs: int) -> list[tuple[str, float, float, int]]:
    from bridge.web.app import create_app

    client = create_app(settings).test_client()
    login = client.get("/admin/login")
    token = login.get_data(as_text=True).split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = client.post("/admin/login", data={"password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302, answer.status_code
    results = []
    for label, path in pages(engine):
        if label.startswith("events, newest"):
            first = client.get(path).get_data(as_text=True)
            older = first.split('rel="next" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
            results.append(_time(client, "events, next page", older, runs))
        results.append(_time(client, label, path, runs))
    return results


def _time(client: Any, label: str, path: str, runs: int) -> tuple[str, float, float, int]:
    status = client.get(path).status_code  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        status = client.get(path).status_code
        times.append((time.perf_counter() - started) * 1000)
    return label, statistics.median(times), max(times), status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", help="also seed and time a PostgreSQL server (a fresh database is made)")
    parser.add_argument("--database", help="time this database instead of a fresh SQLite file")
    parser.add_argument("--reuse", action="store_true", help="the database is already seeded: only time it")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (and its database)")
    parser.add_argument("--target-ms", type=float, default=1000.0, help="the slowest median allowed")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="bridge-admin-bench-"))
    urls = [args.database or f"sqlite:///{folder / 'bridge.db'}"]
    made = _fresh_postgres(args.postgres) if args.postgres else None
    urls += [made] if made else []
    try:
        worst = _run(args, urls)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
            if made:
                _drop_postgres(args.postgres, made)
    if args.keep:
        print(f"\nkept {folder}" + (f" and {made}" if made else ""), file=sys.stderr)
    return 0 if worst <= args.target_ms else 1


def _run(args: argparse.Namespace, urls: list[str]) -> float:
    """Seed (unless --reuse) and time each database; the slowest median."""
    worst = 0.0
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    for url in urls:
        settings = Settings(database_url=normalise_database_url(url), stripe_webhook_secrets=("whsec_bench",),
                            mappings_dir=ROOT / "mappings", admin_password=PASSWORD, log_format="text")
        engine = make_engine(settings)
        if not args.reuse:
            migrate(settings)
            started = time.monotonic()
            print(f"seeding {args.events:,} events into {engine.dialect.name} …", file=sys.stderr, flush=True)
            seed(engine, args.events, time.time())
            print(f"  seeded in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        results = _time_pages(settings, engine, args.runs)
        print(f"\n{engine.dialect.name}, {args.events:,} events: median and slowest of {args.runs} runs")
        print(f"{'page':<40} {'median ms':>10} {'max ms':>8} {'status':>6}")
        for label, median, slowest, status in results:
            print(f"{label:<40} {median:>10.1f} {slowest:>8.1f} {status:>6}")
            worst = max(worst, median if status == 200 else float("inf"))
        engine.dispose()
    return worst


def _drop_postgres(server_url: str, url: str) -> None:
    admin = create_engine(normalise_database_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def _fresh_postgres(server_url: str) -> str:
    admin = create_engine(normalise_database_url(server_url), isolation_level="AUTOCOMMIT")
    name = f"bridge_admin_bench_{int(time.time())}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name


if __name__ == "__main__":
    sys.exit(main())
