"""Working on mapping files: check, try, test, replay."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bridge.settings import Settings

PROBLEMS, CANNOT_RUN = 1, 2


def _check(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.mapping.loader import check_mappings

    mappings, problems = check_mappings(settings.mappings_dir, settings.mappings_overlay_dir)
    for problem in problems:
        print(problem)
    if mappings is None:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return PROBLEMS
    for note in mappings.notes:
        print(f"note: {note}")
    overlay = settings.mappings_overlay_dir
    layers = f"{settings.mappings_dir}" + (f" + {overlay}" if overlay else "")
    print(f"mappings {layers}: {len(mappings.rules)} rule(s), version {mappings.version}: ok")
    if args.pendo:
        from bridge.cli.pendo import check_pendo

        return check_pendo(settings, mappings)
    return 0


def _load(settings: Settings) -> Any:
    from bridge.mapping import load_mappings

    return load_mappings(settings.mappings_dir, settings.mappings_overlay_dir)


def _enrichment(settings: Settings, args: argparse.Namespace, event: Any) -> dict[str, Any]:
    from bridge.mapping.dryrun import read_json

    if args.online:
        from bridge.cli.pendo import online_enrichment

        return online_enrichment(settings, event)
    path = Path(args.event)
    beside = path.with_name(path.stem + ".enrichment.json")
    enrichment_file = Path(args.enrichment) if args.enrichment else (beside if beside.is_file() else None)
    enrichment = dict(read_json(enrichment_file)) if enrichment_file else {}
    if args.customer:
        enrichment["customer"] = read_json(Path(args.customer))
    return enrichment


def _stored_state(settings: Settings, event: Any, enrichment: dict[str, Any],
                  account_fallback: str) -> tuple[dict[str, Any], str | None]:
    """The billing state the worker would evaluate `event` with — the customer's link, this subscription's stored
    snapshot and its account's roll-up with the event applied — read from the database without writing; else
    nothing, with a note that the roll-up saw only this event (docs/mappings.md, `bridge try`)."""
    from bridge.store import billing_state

    if billing_state.subscription_of(event, enrichment) is None:
        return {}, None
    alone = "the account roll-up saw only this event"
    url = settings.database_url
    if url.startswith("sqlite") and not Path(url.split("///", 1)[-1]).is_file():
        return {}, f"{alone}: no database at DATABASE_URL to read the account's other subscriptions from"
    try:
        from sqlalchemy import create_engine

        from bridge.mapping import identity
        from bridge.store import links

        engine = create_engine(url)
        try:
            with engine.connect() as connection:  # never committed: nothing is written
                link = links.linked_account(connection, event.provider, event.customer_id)
                found = {**enrichment, "link": link} if link else enrichment
                account_id = identity.account_of(event, found, account_fallback)
                state = billing_state.prepare(connection, event, found, account_id, time.time(), lock=False)
                connection.rollback()
        finally:
            engine.dispose()
    except Exception as exc:  # an unreachable or unmigrated database: say so, evaluate alone
        return {}, f"{alone}: the stored state could not be read ({type(exc).__name__})"
    count = len(state.context.get("account", {}).get("subscription_ids") or [])
    note = (f"account roll-up from the stored state: {count} subscription(s) of account {state.account_id} "
            "(read only)") if state.account_id else f"{alone}: it resolves to no account"
    return {**({"link": link} if link else {}), **state.context}, note


def _try(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.mapping.dryrun import dry_run, event_file, render
    from bridge.worker.mapper import eval_options

    mappings = _load(settings)
    event = event_file(Path(args.event), args.provider)
    options = eval_options(settings)
    options = type(options)(**{**options.__dict__, "track_enabled": True})
    enrichment = _enrichment(settings, args, event)
    state, note = ({}, None) if "account" in enrichment else _stored_state(settings, event, enrichment,
                                                                          options.account_fallback)
    run = dry_run(mappings, event, {**enrichment, **state}, settings, options, int(time.time() * 1000))
    run.notes += [note] if note else []
    run.notes.append(f"mappings version {mappings.version}; nothing was sent")
    print(json.dumps(run.as_json(), indent=2, ensure_ascii=False) if args.json else render(run))
    return 0


def _test(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.mapping import load_mappings
    from bridge.mapping.cases import run_file, test_files

    base = load_mappings(settings.mappings_dir)
    full = _load(settings)
    plan = [(path, base) for path in test_files(settings.mappings_dir)]
    if settings.mappings_overlay_dir:
        plan += [(path, full) for path in test_files(settings.mappings_overlay_dir)]
    if args.files:
        plan = [(Path(name), full) for name in args.files]
    if not plan:
        print(f"no test files: put them in {settings.mappings_dir / 'tests'}/*.yaml", file=sys.stderr)
        return CANNOT_RUN
    results = [result for path, mappings in plan for result in run_file(path, mappings)]
    for result in results:
        print(f"{'PASS' if result.ok else 'FAIL'} {result.file}: {result.name}")
        for failure in result.failures:
            print(f"    {failure}")
    tested = {name for result in results for name in result.matched}
    untested = [rule.name for rule in full.rules if rule.name not in tested]
    if untested:
        print(f"rules no test matches: {', '.join(untested)}")
    failed = sum(not result.ok for result in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return PROBLEMS if failed else 0


def _replay(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.store.db import make_engine
    from bridge.store.store import Store
    from bridge.worker.replay import ReplayFilter, replay

    selection = ReplayFilter(event_ids=tuple(args.event_id or ()), type_glob=args.type, since=args.since,
                             until=args.until, failed_only=args.failed_only, status=args.status)
    report = replay(Store(make_engine(settings)), _load(settings), settings, selection, now=time.time(),
                    tracks=args.tracks, retimestamp=args.retimestamp, dry_run=args.dry_run)
    print(report.render())
    return 0


def _time(value: str) -> float:
    """Unix seconds or an ISO 8601 date/time (UTC when no zone is given)."""
    from bridge.mapping.functions import format_date

    try:
        return float(value)
    except ValueError:
        pass
    try:
        return int(format_date(value, "epoch_ms") or 0) / 1000
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a unix time or ISO 8601 date: {value!r}") from None


def _default_provider() -> str:
    from bridge.providers.registry import PACKAGES

    return PACKAGES[0]


def _provider(value: str) -> str:
    """A registered provider's name, or an argparse error listing them."""
    from bridge.providers.registry import PACKAGES

    if value not in PACKAGES:
        raise argparse.ArgumentTypeError(f"no provider {value!r}: the providers are {', '.join(PACKAGES)}")
    return value


def register(commands: Any) -> None:
    check = commands.add_parser("check", help="validate the mapping files (file:line: rule: message)")
    check.add_argument("--pendo", action="store_true", help="also compare the mapped fields with Pendo's schema")
    check.set_defaults(run=_check, settings="optional")
    try_ = commands.add_parser("try", help="show what one event would send to Pendo (sends nothing)")
    try_.add_argument("event", help="an event file, as the provider's webhook carries it (JSON, or the form body "
                      "of a provider that posts forms)")
    try_.add_argument("--provider", type=_provider,
                      help="the provider whose webhook carries the event (default: the first registered, "
                      f"{_default_provider()})")
    try_.add_argument("--json", action="store_true", help="machine-readable output")
    try_.add_argument("--customer", help="a customer JSON file (the provider's) to enrich the event with")
    try_.add_argument("--enrichment", help='a JSON file {"customer": {...}} (default: EVENT.enrichment.json)')
    try_.add_argument("--online", action="store_true",
                      help="fetch the enrichment from the provider's API (its API key)")
    try_.set_defaults(run=_try, settings="optional")
    test = commands.add_parser("test", help="run the mapping tests (<mappings>/tests/*.yaml)")
    test.add_argument("files", nargs="*", help="test files to run instead (against the full mapping set)")
    test.set_defaults(run=_test, settings="optional")
    replay = commands.add_parser("replay", help="recompute accounts' fields from stored events under the current "
                                 "mappings and send them again")
    replay.add_argument("--event-id", action="append", help="only this event (repeatable)")
    replay.add_argument("--type", help="only events whose type matches this glob, e.g. 'invoice.*'")
    replay.add_argument("--since", type=_time, help="only events created at or after (unix or ISO 8601)")
    replay.add_argument("--until", type=_time, help="only events created before (unix or ISO 8601)")
    replay.add_argument("--failed-only", action="store_true", help="only events that failed or whose values did")
    replay.add_argument("--status", choices=["mapped", "unmapped", "unresolved", "failed", "held"],
                        help="only events with this status; held ones go back to the worker when they now map")
    replay.add_argument("--tracks", action="store_true", help="also re-send the selected events' track events")
    replay.add_argument("--retimestamp", action="store_true",
                        help="send track events older than 7 days at now, keeping original_timestamp")
    replay.add_argument("--dry-run", action="store_true", help="print the changes, send nothing")
    replay.set_defaults(run=_replay, settings="optional")
