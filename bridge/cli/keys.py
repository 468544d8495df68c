"""Keys of the HTTP API: `bridge keys create NAME`, `bridge keys list`, `bridge keys revoke NAME`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from bridge.settings import Settings


def migrated_engine(settings: Settings) -> Any:
    """The database's engine; ConfigError when `bridge migrate` has not made the API's tables yet."""
    from sqlalchemy import inspect

    from bridge.errors import ConfigError
    from bridge.store.db import make_engine

    engine = make_engine(settings, pool_size=1)
    if not inspect(engine).has_table("api_keys"):
        raise ConfigError("the database (DATABASE_URL) has no table of API keys yet: run `bridge migrate` first")
    return engine


def _create(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.store import keys

    key = keys.create(migrated_engine(settings), args.name, tuple(args.scope or ()), time.time())
    print(key)  # alone on stdout, so that `KEY=$(bridge keys create app)` works
    print(f"key {args.name!r} created; this is the only time it is shown: store it as a secret now",
          file=sys.stderr)
    return 0


def _when(moment: float | None) -> str:
    return "-" if moment is None else datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _list(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.store import keys

    found = keys.list_keys(migrated_engine(settings))
    if args.json:
        print(json.dumps({key.name: key.usage() for key in found}, sort_keys=True))
        return 0
    if not found:
        print("no keys yet: `bridge keys create NAME`")
        return 0
    header = ("name", "key", "scopes", "status", "created", "last used", "requests", "accepted", "duplicates",
              "rejected", "limited")
    rows = [(k.name, k.shown_as, ",".join(k.scopes), "revoked" if k.revoked_at else "active", _when(k.created_at),
             _when(k.last_used_at), *(str(getattr(k, c)) for c in keys.COUNTERS))
            for k in found]
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


def _revoke(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.store import keys

    keys.revoke(migrated_engine(settings), args.name, time.time())
    print(f"key {args.name!r} revoked: requests with it are refused (401) from now on")
    return 0


def register(commands: Any) -> None:
    group = commands.add_parser("keys", help="keys of the HTTP API (/v1/track, /v1/metadata/...)")
    actions = group.add_subparsers(dest="keys_command", required=True)
    create = actions.add_parser("create", help="create a key and print it (once: only a hash is stored)")
    create.add_argument("name", help="the key's name: the source its data shows under in `bridge status`")
    create.add_argument("--scope", action="append", choices=("track", "metadata"),
                        help="what the key may send; repeat for both (default: both)")
    create.set_defaults(run=_create, settings="optional")
    listing = actions.add_parser("list", help="every key with its scopes, status and use")
    listing.add_argument("--json", action="store_true", help="one line of JSON")
    listing.set_defaults(run=_list, settings="optional")
    revoke = actions.add_parser("revoke", help="refuse a key from now on (its name and counters stay)")
    revoke.add_argument("name")
    revoke.set_defaults(run=_revoke, settings="optional")
