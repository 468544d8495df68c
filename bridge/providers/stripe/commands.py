"""Bringing Stripe's existing state in: `sync stripe` (subscriptions now) and `catchup stripe` (the event log)."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from bridge.errors import ConfigError
from bridge.settings import Settings

log = logging.getLogger("bridge.cli")


def _api(settings: Settings) -> Any:
    from bridge.providers.stripe.api import StripeApi, client_for
    from bridge.providers.stripe.enrichment import RateBudget

    config = settings.providers.get("stripe")
    if config is None:
        raise ConfigError("STRIPE_WEBHOOK_SECRET is not set: the sync and catch-up store events as Stripe's "
                          "endpoint would, and need its configuration (STRIPE_WEBHOOK_SECRET and STRIPE_API_KEY)")
    client = client_for(config.api_key, config.api_base)
    return StripeApi(client, RateBudget(config.requests_per_second))


def _sync(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.mapping import load_mappings
    from bridge.ops.progress import Progress
    from bridge.store.db import make_engine
    from bridge.store.store import Store
    from bridge.sync.initial import CHANGES_SHOWN, Sync, describe_changes

    mappings = load_mappings(settings.mappings_dir, settings.mappings_overlay_dir)
    sync = Sync(settings, Store(make_engine(settings)), _api(settings), mappings,
                progress=Progress("sync stripe", "subscriptions"))
    report = sync.run(dry_run=args.dry_run, restart=args.restart, compare=args.reconcile)
    lines = list(describe_changes(report.changes))
    if args.dry_run:
        print("\n".join(lines) if lines else "no field would change")
    elif args.reconcile:
        print("\n".join(lines[:CHANGES_SHOWN]))
        if len(lines) > CHANGES_SHOWN:
            print(f"… and {len(lines) - CHANGES_SHOWN} more")
    summary = report.summary()
    print(json.dumps({"dry_run": args.dry_run, **summary}, sort_keys=True))
    log.info("stripe sync finished", extra={"dry_run": args.dry_run, **summary})
    return 0


def _catchup(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.mapping import load_mappings
    from bridge.ops.progress import Progress
    from bridge.store.db import make_engine
    from bridge.store.store import Store
    from bridge.sync.catchup import Catchup

    mappings = load_mappings(settings.mappings_dir, settings.mappings_overlay_dir)
    catchup = Catchup(settings, Store(make_engine(settings)), _api(settings), mappings,
                      progress=Progress("catchup stripe", "fetched"))
    report = catchup.run(args.since, failed_only=args.failed_only)
    if report.note:
        print(report.note)
    summary = report.summary()
    print(json.dumps(summary, sort_keys=True))
    log.info("stripe catch-up finished", extra=summary)
    return 0


def register(commands: Any) -> None:
    sync = commands.add_parser("sync", help="write every subscription's current state (day one, nightly)")
    sync.add_argument("provider", choices=["stripe"])
    sync.add_argument("--dry-run", action="store_true", help="print the field values that would change; store nothing")
    sync.add_argument("--restart", action="store_true", help="ignore an interrupted run's cursor; start over")
    sync.add_argument("--reconcile", action="store_true",
                      help="also report which delivered values the sync corrects (for a nightly scheduler)")
    sync.set_defaults(run=_sync, settings="optional")
    catchup = commands.add_parser("catchup", help="fetch missed events from Stripe's event log (30 days)")
    catchup.add_argument("provider", choices=["stripe"])
    catchup.add_argument("--since", required=True, help="an ISO 8601 time (UTC by default) or an event id evt_…")
    catchup.add_argument("--failed-only", action="store_true",
                         help="only events Stripe failed to deliver to an endpoint (delivery_success=false)")
    catchup.set_defaults(run=_catchup, settings="optional")
