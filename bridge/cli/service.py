"""Running the service: migrate, worker, serve, demo."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from bridge.settings import Settings

log = logging.getLogger("bridge.cli")


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from bridge.store.db import migrate

    migrate(settings)
    log.info("database schema is up to date")
    return 0


def _worker(settings: Settings, _args: argparse.Namespace) -> int:
    from bridge.worker.loop import build_worker, run_until_signalled

    run_until_signalled(build_worker(settings))
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.store.db import migrate
    from bridge.worker.serve import serve

    migrate(settings)  # one process owns the database in this mode: bring it up to date first
    serve(settings, args.bind, args.threads)
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from bridge.cli.demo import run_demo

    return run_demo(args.port, settings)


def register(commands: Any) -> None:
    commands.add_parser("migrate", help="apply database migrations (idempotent)").set_defaults(run=_migrate)
    commands.add_parser("worker", help="map stored events and deliver them to Pendo").set_defaults(run=_worker)
    serve = commands.add_parser("serve", help="web and worker in one process (small deployments)")
    serve.add_argument("--bind", default=None, help="address:port (default 0.0.0.0:$PORT)")
    serve.add_argument("--threads", type=int, default=16)
    serve.set_defaults(run=_serve)
    demo = commands.add_parser("demo", help="run locally with a generated secret and a local stand-in for Pendo")
    demo.add_argument("--port", type=int, default=8000)
    demo.set_defaults(run=_demo, settings="optional")  # only the admin console's settings are read
