"""Month-start burst: every subscription renews at once, on the deployment bench/e2e.py starts.

`--accounts` accounts (default 25,000) each send `customer.subscription.updated` (the renewal: a new period, the
seat count) and `invoice.paid` (a track event, and the account's last payment) within `--seconds` (default 300):
50,000 webhooks in 5 minutes, an open loop at 2 * accounts / seconds per second. Each body is built and signed when
a sender takes it (Stripe refuses signatures older than 300 s, and the run is longer). Then it samples on until
everything is delivered or `--drain-limit` passes, and reports: every webhook acknowledged and stored; every
account's seat count and last payment in Pendo, and when the last of them arrived after the last webhook; the track
events delivered, their rate against the budget, and how long the whole track backlog takes (measured when it
drained, projected from the drain's rate when it did not). See bench/README.md.

    .venv/bin/python bench/burst.py --database-url postgresql://postgres@127.0.0.1:5432/test --workers 2
    .venv/bin/python bench/burst.py --accounts 500 --seconds 20 --workers 2 --database-url …   # a quick check

Exit codes: 0 every target met, 1 a target missed, 2 the benchmark could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, overload

import e2e
import stripe
from ingest import Job, say

from tests.e2e.harness import stripe_event
from tests.e2e.payloads import invoice, subscription

METADATA_WITHIN_S = 60.0  # every account's values in Pendo this long after the last webhook
PERIOD_START, PERIOD_END = 1_769_904_000, 1_772_323_200  # the renewed period: 2026-02-01 to 2026-03-01


def seats(account: int) -> int:
    return account % 20 + 2


def amount_cents(account: int) -> int:
    return 4900 + account % 1000


def renewal(account: int, kind: int, run: str) -> dict[str, Any]:
    """Account `account`'s renewal (kind 0) or its paid invoice (kind 1), as Stripe sends them at a period's start."""
    ids = {"customer": f"cus_{account}"}
    if kind == 0:
        obj = subscription(account=f"acct-{account}", quantity=seats(account), sub_id=f"sub_{account}", **ids)
        obj["items"]["data"][0].update(current_period_start=PERIOD_START, current_period_end=PERIOD_END)
        event_type = "customer.subscription.updated"
    else:
        obj = invoice(account=f"acct-{account}", amount=amount_cents(account))
        obj.update(id=f"in_{run}{account}", **ids)
        obj["parent"]["subscription_details"]["subscription"] = f"sub_{account}"
        event_type = "invoice.paid"
    return stripe_event(event_type, obj, created=int(time.time()), event_id=f"evt_burst{run}{account:06d}{kind}")


class SignedOnTaking(Sequence[Job]):
    """The burst's webhooks, each built and signed when a sender takes it: the run outlasts a signature's 300 s."""

    def __init__(self, accounts: int, secret: str):
        self.accounts, self.secret, self.run = accounts, secret, uuid.uuid4().hex[:8]

    def __len__(self) -> int:
        return 2 * self.accounts

    @overload
    def __getitem__(self, index: int) -> Job: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Job]: ...

    def __getitem__(self, index: int | slice) -> Job | Sequence[Job]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not 0 <= index < len(self):
            raise IndexError(index)
        event = renewal(index // 2, index % 2, self.run)
        body = json.dumps(event)
        header = stripe.WebhookSignature.generate_signature_header(body, self.secret, timestamp=int(time.time()))
        return event["id"], body.encode(), {"Content-Type": "application/json", "Stripe-Signature": header}


def track_backlog(result: dict[str, Any], expected: int) -> dict[str, Any]:
    """Track events delivered, and the backlog's time from the last webhook: measured when it drained, else projected
    at the rate Pendo received them over the last minute sampled."""
    state, samples, end = result["pendo_state"], result["samples"], result["sent"]["end"]
    delivered, last_at = int(state["tracks"]), state["track_last_at"]
    window = [s for s in samples if s.t >= samples[-1].t - 60]
    span = window[-1].t - window[0].t
    rate = (window[-1].pendo_tracks - window[0].pendo_tracks) / span if span > 0 else 0.0
    left = expected - delivered
    if not left and last_at is not None:
        seconds = round(last_at - result["sent"]["end_at"], 1)
    else:
        seconds = round(samples[-1].t - end + left / rate, 1) if rate > 0 else None
    return {"expected": expected, "delivered": delivered, "undelivered": left,
            "rate_last_minute_per_s": round(rate, 1), "backlog_s_after_last_webhook": seconds, "measured": not left}


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    secret = "whsec_bench_" + uuid.uuid4().hex
    jobs = SignedOnTaking(args.accounts, secret)
    args.rate = len(jobs) / args.seconds
    with e2e.deployment(args, workdir, secret) as service:
        say(f"sending {len(jobs)} webhooks at {args.rate:.1f}/s for {args.seconds:g} s over {args.accounts} accounts"
            f" to {args.workers} worker(s) on {service.database}, budget {args.budget:g}/s")
        result = e2e.drive(args, jobs, service)
        end_at = result["sent"]["end_at"]
        accounts = [f"acct-{n}" for n in range(args.accounts)]
        result["latest"] = [
            e2e.latest_in_pendo(service.pendo, "seats", {a: seats(n) for n, a in enumerate(accounts)}, end_at),
            e2e.latest_in_pendo(service.pendo, "last_payment_amount",
                                {a: amount_cents(n) / 100 for n, a in enumerate(accounts)}, end_at)]
        result["burst"] = e2e.Budget(service.engine, args.budget).burst
        result["database"] = service.database
        result["tracks_made"] = sum(e2e.ob.Outbox(service.engine).counts()["track"].values())
    result["log_warnings"] = e2e.log_warnings(workdir, args.workers)
    return report(args, result)


def report(args: argparse.Namespace, result: dict[str, Any]) -> dict[str, Any]:
    sent, samples, latest = result["sent"], result["samples"], result["latest"]
    tracks = track_backlog(result, result["tracks_made"])
    pendo = e2e.pendo_summary(result, args.budget, result["burst"])
    arrivals = [found["last_arrival_after_last_webhook_s"] for found in latest]
    verdict = {
        "sent_in_time_all_acknowledged": sent["achieved_rate"] >= e2e.RATE_SHARE * args.rate and sent["errors"] == 0
        and sent["ok"] == 2 * args.accounts,
        "all_stored_and_mapped": samples[-1].stored >= sent["ok"] and samples[-1].unmapped == 0,
        "metadata_current_within_60s": all(found["current"] == found["accounts"] for found in latest)
        and None not in arrivals and max(arrivals) <= METADATA_WITHIN_S,
        "pendo_within_budget": pendo["within_budget"],
        "tracks_delivered_or_draining": tracks["backlog_s_after_last_webhook"] is not None,
    }
    return {
        "accounts": args.accounts, "webhooks": 2 * args.accounts, "seconds": args.seconds, "rate": round(args.rate, 1),
        "database": result["database"], "workers": args.workers,
        "web_workers": args.web_workers, "budget_per_s": args.budget, "pendo_latency_s": args.latency,
        "cores": os.cpu_count(), "load_before": args.load_before,
        "ingest": {k: sent[k] for k in ("ok", "errors", "error_samples", "achieved_rate", "p50_ms", "p99_ms",
                                        "max_ms", "max_send_lag_ms")},
        "stored": samples[-1].stored, "unmapped_max": max(s.unmapped for s in samples),
        "lag_s_every_30s": [s.lag_s for s in samples[29::30]],
        "latest_in_pendo": latest, "tracks": tracks, "pendo": pendo,
        "sampled_s_after_last_webhook": round(samples[-1].t - sent["end"], 1),
        "cpu_pct_while_sending": result["cpu_pct_while_sending"], "log_warnings": result["log_warnings"],
        "verdict": verdict, "pass": all(verdict.values()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=25_000, help="accounts renewing (two webhooks each)")
    parser.add_argument("--seconds", type=float, default=300.0, help="how long the webhooks take to arrive")
    e2e.service_arguments(parser)
    parser.set_defaults(drain_limit=120.0, workers=2)
    args = parser.parse_args()
    if min(args.accounts, args.seconds, args.budget, args.web_workers, args.workers) <= 0:
        say("--accounts, --seconds, --budget, --web-workers, --workers must be positive")
        return 2
    return e2e.conclude(args, run, "bridge-burst-bench-")

if __name__ == "__main__":
    sys.exit(main())
