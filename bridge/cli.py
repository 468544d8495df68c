"""The `bridge` command: migrate, worker, serve, status, purge, demo.

Exit codes: 0 done, 1 problems found, 2 cannot run (a setting or a file to fix).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence

from bridge.errors import BridgeError, ConfigError, MappingError
from bridge.logs import configure
from bridge.settings import Settings, load_settings

log = logging.getLogger("bridge.cli")


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from bridge.db import migrate

    migrate(settings)
    log.info("database schema is up to date")
    return 0


def _worker(settings: Settings, _args: argparse.Namespace) -> int:
    from bridge.worker import build_worker, run_until_signalled

    run_until_signalled(build_worker(settings))
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.db import migrate
    from bridge.serve import serve

    migrate(settings)  # one process owns the database in this mode: bring it up to date first
    serve(settings, args.bind, args.threads)
    return 0


def _purge(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.db import make_engine
    from bridge.store import Store

    count = Store(make_engine(settings)).purge_customer(args.customer)
    print(f"removed the stored payloads of {count} events of customer {args.customer}")
    return 0


def _status(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.db import make_engine
    from bridge.delivery import PAUSE
    from bridge.outbox import Outbox
    from bridge.store import Store

    store = Store(make_engine(settings))
    box = Outbox(store.engine)
    report = {"events": store.count_by_status(), **box.counts(), "paused": store.control(PAUSE),
              "possible_duplicates": box.reclaim_count()}
    print(json.dumps(report, indent=None if args.json else 2, sort_keys=True))
    return 0


def _demo(_settings: Settings, args: argparse.Namespace) -> int:
    from bridge.demo import run_demo

    return run_demo(args.port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bridge", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply database migrations (idempotent)").set_defaults(run=_migrate)
    commands.add_parser("worker", help="map stored events and deliver them to Pendo").set_defaults(run=_worker)
    serve = commands.add_parser("serve", help="web and worker in one process (small deployments)")
    serve.add_argument("--bind", default=None, help="address:port (default 0.0.0.0:$PORT or :8000)")
    serve.add_argument("--threads", type=int, default=4)
    serve.set_defaults(run=_serve)
    purge = commands.add_parser("purge", help="remove a customer's stored payloads")
    purge.add_argument("--customer", required=True, help="the provider's customer id, e.g. cus_...")
    purge.set_defaults(run=_purge)
    status = commands.add_parser("status", help="counts by state, the pause, possible duplicates")
    status.add_argument("--json", action="store_true", help="one line of JSON")
    status.set_defaults(run=_status)
    demo = commands.add_parser("demo", help="run locally with a generated secret and a local stand-in for Pendo")
    demo.add_argument("--port", type=int, default=8000)
    demo.set_defaults(run=_demo, no_settings=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    run: Callable[[Settings, argparse.Namespace], int] = args.run
    try:
        settings = Settings() if getattr(args, "no_settings", False) else load_settings()
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
