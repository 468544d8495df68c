"""The customer → account link table: `bridge link import FILE.csv [--provider NAME]`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from bridge.cli.sync import source_name
from bridge.errors import ConfigError
from bridge.providers import registry
from bridge.settings import Settings


def provider_of(settings: Settings, named: str | None) -> str:
    """The provider a command is about: the one named, else the only one configured (or registered)."""
    if named:
        registry.package(named)  # refuses a name no package has
        return named
    candidates = list(settings.providers) or list(registry.PACKAGES)
    if len(candidates) != 1:
        raise ConfigError(f"name the provider with --provider: one of {', '.join(candidates)}")
    return candidates[0]


def _import(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.store.db import make_engine
    from bridge.store.links import LinkFileError, import_csv

    provider = provider_of(settings, args.provider)
    if args.source is not None:  # one named source's customers (`--provider <name> --source eu`)
        provider = registry.key(registry.split(provider)[0], args.source)
    try:
        count = import_csv(make_engine(settings), provider, Path(args.file), time.time())
    except LinkFileError as exc:
        print(f"error: {exc}")
        return 2
    print(f"imported {count} customer links from {args.file}")
    return 0


def register(commands: Any) -> None:
    link = commands.add_parser("link", help="the provider customer → Pendo account link table")
    actions = link.add_subparsers(dest="link_command", required=True)
    imports = actions.add_parser("import", help="import links from a CSV file with columns customer_id,account_id")
    imports.add_argument("file", help="the CSV file")
    imports.add_argument("--provider", choices=registry.PACKAGES,
                         help="whose customers they are (default: the one provider configured)")
    imports.add_argument("--source", type=source_name,
                         help="which of the provider's accounts (the suffix of its variables, lower case)")
    imports.set_defaults(run=_import, settings="optional")
