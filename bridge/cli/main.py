"""The `bridge` command.

Exit codes: 0 done, 1 problems found, 2 cannot run (a setting or a file to fix).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from bridge.cli import data, importer, keys, links, mappings, pendo, service, sync
from bridge.errors import BridgeError, ConfigError, MappingError
from bridge.ops.logs import configure
from bridge.settings import Settings, load_settings

GROUPS = (service, data, mappings, pendo, sync, links, keys, importer)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bridge", description="Billing providers' webhooks into Pendo.")
    commands = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.register(commands)
    return parser


def _settings(kind: str) -> Settings:
    if kind == "none":
        return Settings()
    return load_settings(require_secret=kind == "required")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    run: Callable[[Settings, argparse.Namespace], int] = args.run
    try:
        settings = _settings(getattr(args, "settings", "required"))
        configure(settings.log_format)
        return run(settings, args)
    except (ConfigError, MappingError) as exc:
        print(f"bridge: {exc}", file=sys.stderr)
        return 2
    except BridgeError as exc:
        print(f"bridge: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
