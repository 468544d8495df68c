"""Day one and a bad day, as a new user runs them: a fake Stripe API, a fake Pendo, the real processes."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine, text

from bridge.settings import normalise_database_url
from tests.e2e.harness import BIN, Service, stripe_event, wait_until
from tests.e2e.payloads import invoice
from tests.fakes.pendo import FakePendo
from tests.fakes.stripe import FakeStripe, subscription

ACCOUNTS = 5


def bridge(service: Service, *args: str) -> dict[str, Any]:
    """Run a `bridge` command as the user would; its last line is the JSON report."""
    done = subprocess.run([str(BIN / "bridge"), *args], env=service.env, cwd=service.tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def waiting_events(service: Service) -> int:
    engine = create_engine(normalise_database_url(service.env["DATABASE_URL"]))
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("select count(*) from events where status = 'received'")).scalar()
                       or 0)
    finally:
        engine.dispose()


def test_sync_fills_accounts_resends_nothing_and_catchup_fills_the_gap(
        service_factory: Callable[..., Service], pendo: FakePendo) -> None:
    now = int(time.time())
    owned = {**subscription(0), "metadata": {"pendo_account_id": "acct-0", "pendo_visitor_id": "owner@acct0.example"}}
    received = [stripe_event("customer.subscription.created", owned, created=now - 600, event_id="evt_created"),
                stripe_event("customer.subscription.updated", owned, created=now - 500, event_id="evt_updated")]
    gap = stripe_event("invoice.paid", invoice(account="acct-1"), created=now - 300, event_id="evt_missed")
    with FakeStripe(ACCOUNTS, [*received, gap]) as stripe:
        service = service_factory(STRIPE_API_KEY="sk_test_e2e", STRIPE_API_BASE=stripe.url,
                                  STRIPE_REQUESTS_PER_SECOND="50")
        for event in received:
            assert service.post(event).status_code == 200
        wait_until(lambda: len(pendo.track_events()) == 1)

        first = bridge(service, "sync", "stripe")
        assert (first["subscriptions"], first["accounts"], first["events_queued"]) == (ACCOUNTS, ACCOUNTS, ACCOUNTS)
        for n in range(ACCOUNTS):
            wait_until(lambda n=n: pendo.account_values(f"acct-{n}").get("billing_status"))
        wait_until(lambda: waiting_events(service) == 0)
        time.sleep(1.5)  # the delivery's linger: anything still to send has gone
        sent = len(pendo.metadata_rows("account"))

        second = bridge(service, "sync", "stripe")
        assert second["events_queued"] == ACCOUNTS
        wait_until(lambda: waiting_events(service) == 0)
        time.sleep(1.5)
        assert len(pendo.metadata_rows("account")) == sent  # nothing new went to Pendo

        since = datetime.fromtimestamp(now - 3600, UTC).isoformat()
        caught = bridge(service, "catchup", "stripe", "--since", since)
        assert (caught["fetched"], caught["new"], caught["duplicates"]) == (3, 1, 2)
        wait_until(lambda: pendo.account_values("acct-1").get("last_payment_at"))
        tracks = sorted(event["event"] for event in pendo.track_events())
        assert tracks == ["Invoice Paid", "Subscription Created"]  # each once: nothing sent twice
