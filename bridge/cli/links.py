"""The customer → account link table: `bridge link import FILE.csv`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from bridge.settings import Settings


def _import(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.store.db import make_engine
    from bridge.store.links import LinkFileError, import_csv

    try:
        count = import_csv(make_engine(settings), Path(args.file), time.time())
    except LinkFileError as exc:
        print(f"error: {exc}")
        return 2
    print(f"imported {count} customer links from {args.file}")
    return 0


def register(commands: Any) -> None:
    link = commands.add_parser("link", help="the Stripe customer → Pendo account link table")
    actions = link.add_subparsers(dest="link_command", required=True)
    imports = actions.add_parser("import", help="import links from a CSV file with columns customer_id,account_id")
    imports.add_argument("file", help="the CSV file")
    imports.set_defaults(run=_import, settings="optional")
