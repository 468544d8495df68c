"""Getting Pendo ready for the mappings: `pendo setup`, and the Pendo half of `check --pendo`."""

from __future__ import annotations

import argparse
from typing import Any

from bridge.errors import ConfigError, PendoError
from bridge.mapping import MappingSet
from bridge.providers import Event, registry
from bridge.settings import Settings


def _schemas(client: Any, mappings: MappingSet) -> dict[str, dict[str, dict[str, Any]]]:
    from bridge.pendo.fields import kinds_used

    return {kind: client.get_schema(kind) for kind in kinds_used(mappings)}


def check_pendo(settings: Settings, mappings: MappingSet) -> int:
    """Print every mapped field missing from Pendo or of another type, and whether the key can write."""
    from bridge.pendo.client import PendoClient
    from bridge.pendo.fields import compare

    client = PendoClient(settings)
    try:
        token = client.verify_token()
        report = compare(mappings, _schemas(client, mappings))
    except PendoError as exc:
        print(f"pendo: cannot check: {exc}")
        return 2
    for wanted in report.missing:
        print(f"pendo: {wanted.kind} field {wanted.name!r}: missing from group custom (expected {wanted.type}; "
              f"rules {', '.join(wanted.rules)}); `bridge pendo setup` creates it")
    for wanted, actual in report.mismatched:
        print(f"pendo: {wanted.kind} field {wanted.name!r}: is {actual} in Pendo, the mappings send {wanted.type} "
              f"(rules {', '.join(wanted.rules)})")
    for conflict in report.conflicts:
        print(f"pendo: {conflict}")
    print(f"pendo: integration key valid: {_yes(token.valid)}, can write: {_yes(token.write_access)}")
    return 0 if report.ok and token.valid and token.write_access else 1


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def _setup(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.mapping import load_mappings
    from bridge.pendo.client import PendoClient
    from bridge.pendo.fields import KINDS, compare

    mappings = load_mappings(settings.mappings_dir, settings.mappings_overlay_dir)
    client = PendoClient(settings)
    report = compare(mappings, _schemas(client, mappings))
    verb = "would create" if args.dry_run else "created"
    for kind in KINDS:
        fields = [(f.name, f.pendo_type) for f in report.missing if f.kind == kind]
        if fields and not args.dry_run:
            client.create_fields(kind, fields)
        for name, pendo_type in fields:
            print(f"{verb} {kind} field {name} ({pendo_type})")
    for wanted, actual in report.mismatched:
        print(f"cannot fix: {wanted.kind} field {wanted.name} is {actual} in Pendo, the mappings send {wanted.type} "
              "(change it in Pendo, or declare `types:` / rename it with `field_names:`)")
    if not report.missing:
        print("nothing to create: every mapped field exists in Pendo")
    return 1 if report.mismatched or report.conflicts else 0


def online_enrichment(settings: Settings, event: Event) -> dict[str, Any]:
    """Enrichment as the worker would fetch it from the provider, cached in a throw-away in-memory database."""
    from sqlalchemy import create_engine

    from bridge.store.schema import metadata
    from bridge.store.store import Store
    from bridge.worker.enrichment import online

    config = settings.providers.get(event.provider)
    if config is None or registry.source(event.provider, config) is None:  # no API key: nothing to ask
        raise ConfigError(f"--online needs {event.provider} configured and its API key "
                          f"({registry.api_key_variable(event.provider)}: a restricted key with read access)")
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    return online(Store(engine), {event.provider: config}).enrich(event)


def register(commands: Any) -> None:
    pendo = commands.add_parser("pendo", help="Pendo set-up")
    actions = pendo.add_subparsers(dest="pendo_command", required=True)
    setup = actions.add_parser("setup", help="create the custom fields the mappings write (idempotent)")
    setup.add_argument("--dry-run", action="store_true", help="print what would be created, create nothing")
    setup.set_defaults(run=_setup, settings="optional")
