"""Bringing a provider's existing state in: `sync <provider>` (subscriptions now), `catchup <provider>` (its log)."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from bridge.errors import ConfigError
from bridge.providers import registry
from bridge.settings import Settings

log = logging.getLogger("bridge.cli")


def _config(settings: Settings, provider: str) -> Any:
    """The provider's configuration; the commands store events as its endpoint would, so it must be configured."""
    config = settings.providers.get(provider)
    if config is None:
        name, source = registry.split(provider)
        suffix = "" if source == registry.DEFAULT_SOURCE else f"_{source.upper()}"
        variables = ", ".join(f"{each}{suffix}" for each in registry.package(name).VARIABLES)
        raise ConfigError(f"{provider} is not configured: the sync and catch-up store its events as its endpoint "
                          f"would; set its variables ({variables})")
    return config


def _no_api(provider: str) -> ConfigError:
    return ConfigError(f"{registry.api_key_variable(provider)} is not set: the sync and catch-up read {provider}'s "
                       "API with a key that can read subscriptions, customers and events "
                       f"(docs/providers/{provider}.md)")


def _sync(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.mapping import load_mappings
    from bridge.ops.progress import Progress
    from bridge.store.db import make_engine
    from bridge.store.store import Store
    from bridge.sync.initial import CHANGES_SHOWN, Sync, describe_changes

    provider = registry.key(args.provider, args.source)
    source = registry.source(provider, _config(settings, provider))
    if source is None:
        raise _no_api(provider)
    mappings = load_mappings(settings.mappings_dir, settings.mappings_overlay_dir)
    sync = Sync(settings, Store(make_engine(settings)), provider, source, mappings,
                progress=Progress(f"sync {provider}", "subscriptions"))
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
    log.info(f"{provider} sync finished", extra={"dry_run": args.dry_run, **summary})
    return 0


def _catchup(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.mapping import load_mappings
    from bridge.ops.progress import Progress
    from bridge.store.db import make_engine
    from bridge.store.store import Store
    from bridge.sync.catchup import Catchup

    provider = registry.key(args.provider, args.source)
    config = _config(settings, provider)
    event_log = getattr(registry.package(provider), "event_log", None)
    if event_log is None:
        raise ConfigError(f"{provider} keeps no event log bridge can read: run `bridge sync {provider}` instead")
    events = event_log(config)
    if events is None:
        raise _no_api(provider)
    mappings = load_mappings(settings.mappings_dir, settings.mappings_overlay_dir)
    catchup = Catchup(settings, Store(make_engine(settings)), provider, events, mappings,
                      progress=Progress(f"catchup {provider}", "fetched"))
    report = catchup.run(args.since, failed_only=args.failed_only)
    if report.note:
        print(report.note)
    summary = report.summary()
    print(json.dumps(summary, sort_keys=True))
    log.info(f"{provider} catch-up finished", extra=summary)
    return 0


def source_name(value: str) -> str:
    """A source name as `--source` takes it: what `<NAME>_WEBHOOK_SECRET_EU` names is `eu`."""
    value = value.strip().lower()
    if value != registry.DEFAULT_SOURCE and not registry.SOURCE_NAME.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a source name: lower-case letters, digits, _ and -, "
                                         f"at most {registry.SOURCE_MAX} characters")
    return value


def register(commands: Any) -> None:
    sync = commands.add_parser("sync", help="write every subscription's current state (day one, nightly)")
    sync.add_argument("provider", choices=registry.PACKAGES)
    sync.add_argument("--source", default=registry.DEFAULT_SOURCE, type=source_name,
                      help="the named source (the suffix of its variables, lower case); default: the unsuffixed one")
    sync.add_argument("--dry-run", action="store_true", help="print the field values that would change; store nothing")
    sync.add_argument("--restart", action="store_true", help="ignore an interrupted run's cursor; start over")
    sync.add_argument("--reconcile", action="store_true",
                      help="also report which delivered values the sync corrects (for a nightly scheduler)")
    sync.set_defaults(run=_sync, settings="optional")
    catchup = commands.add_parser("catchup", help="fetch missed events from the provider's event log")
    catchup.add_argument("provider", choices=registry.PACKAGES)
    catchup.add_argument("--source", default=registry.DEFAULT_SOURCE, type=source_name,
                         help="the named source (the suffix of its variables, lower case); default: the unsuffixed one")
    catchup.add_argument("--since", required=True,
                         help="an ISO 8601 time (UTC by default), or one of the provider's event ids")
    catchup.add_argument("--failed-only", action="store_true",
                         help="only events the provider failed to deliver to an endpoint")
    catchup.set_defaults(run=_catchup, settings="optional")
