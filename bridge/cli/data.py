"""Looking at and removing stored data: status, purge."""

from __future__ import annotations

import argparse
import json
from typing import Any

from bridge.cli.sync import source_name
from bridge.providers import registry
from bridge.settings import Settings


def _status(settings: Settings, args: argparse.Namespace) -> int:
    import time

    from bridge.ops import metrics
    from bridge.store.db import make_engine
    from bridge.store.store import Store

    report = metrics.collect(settings, Store(make_engine(settings)), time.time())
    if args.source is not None:  # one account of each provider: its endpoint and its events' API versions
        report["webhook_sources"] = {key: each for key, each in report["webhook_sources"].items()
                                     if each["source"] == args.source}
        report["api_versions"] = {key: each for key, each in report["api_versions"].items()
                                  if registry.split(key)[1] == args.source}
    print(json.dumps(report, indent=None if args.json else 2, sort_keys=True))
    return 0


def _purge(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.store.db import make_engine
    from bridge.store.purge import purge_customer

    if args.source is not None and args.provider is None:
        print("error: --source names one of a provider's accounts: give --provider too")
        return 2
    provider = registry.key(args.provider, args.source) if args.provider else None
    done = purge_customer(make_engine(settings), args.customer, provider)
    print(f"removed the stored data of customer {args.customer}: {done.events} events, {done.track_events} track "
          f"events, {done.field_values} field values, {done.subscriptions} subscriptions, {done.cached_objects} "
          "cached provider objects (docs/operations.md: what stays)")
    return 0


def register(commands: Any) -> None:
    status = commands.add_parser("status", help="counts by state, API versions seen, lag, recent failures, the pause, "
                                 "the request budget")
    status.add_argument("--json", action="store_true", help="one line of JSON")
    status.add_argument("--source", type=str.lower,
                        help="only this named source's accounts (`default`: the unsuffixed ones)")
    status.set_defaults(run=_status, settings="optional")
    purge = commands.add_parser("purge", help="remove what is stored about a customer (payloads, values, cache)")
    purge.add_argument("--customer", required=True, help="the provider's customer id, e.g. cus_...")
    purge.add_argument("--provider", choices=registry.PACKAGES,
                       help="only this provider's customer of that id (default: every provider's, every account's)")
    purge.add_argument("--source", type=source_name,
                       help="with --provider: only that account's (default: the unsuffixed one's)")
    purge.set_defaults(run=_purge, settings="optional")
