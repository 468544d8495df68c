"""Runs the Procfile's processes for real (gunicorn web, bridge worker) against a fake Pendo."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import stripe

from tests.conftest import ROOT, SECRET

BIN = Path(sys.executable).parent


def procfile() -> dict[str, str]:
    """The Procfile's roles and command lines."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float = 20.0, every: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy; fail with the last value otherwise."""
    deadline, value = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s (last value: {value!r})")


def stripe_event(event_type: str, obj: dict[str, Any], created: int | None = None, livemode: bool = True,
                 event_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """A Stripe event envelope around `obj`."""
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:20]}", "object": "event", "type": event_type,
        "api_version": extra.pop("api_version", "2025-03-31.basil"), "created": created or int(time.time()),
        "livemode": livemode, "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None},
        "data": {"object": obj, **extra},
    }


class Service:
    """The web and worker processes of one deployment, with their environment."""

    def __init__(self, tmp_path: Path, database_url: str, pendo_url: str, **env: str):
        self.tmp_path, self.port = tmp_path, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(tmp_path),
            "PORT": str(self.port), "DATABASE_URL": database_url, "STRIPE_WEBHOOK_SECRET": SECRET,
            "PENDO_BASE_URL": pendo_url, "PENDO_INTEGRATION_KEY": "test-integration-key",
            "PENDO_TRACK_EVENT_SECRET": "test-track-secret", "BRIDGE_MAPPINGS_DIR": str(ROOT / "mappings"),
            "BRIDGE_RETRY_BASE_SECONDS": "0.2", "BRIDGE_RETRY_MAX_SECONDS": "1",
            "BRIDGE_WORKER_POLL_SECONDS": "0.1", "BRIDGE_CLAIM_SECONDS": "5", "BRIDGE_LOG_FORMAT": "json",
            **env,
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}

    def run(self, role: str, name: str | None = None, **env: str) -> subprocess.Popen[bytes]:
        """Start one Procfile role (as `name`, so a role can run twice)."""
        name = name or role
        log = self.tmp_path / f"{name}.log"
        self.logs[name] = log
        process = subprocess.Popen(
            ["bash", "-c", "exec " + procfile()[role]], env={**self.env, **env}, cwd=self.tmp_path,
            stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.processes[name] = process
        return process

    def release(self) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["bash", "-c", procfile()["release"]], env=self.env, cwd=self.tmp_path,
                              capture_output=True, timeout=120, check=False)

    def start(self) -> Service:
        result = self.release()
        assert result.returncode == 0, result.stderr.decode()
        self.run("web")
        self.run("worker")
        try:
            wait_until(self.ready, timeout=30)
        except AssertionError:
            self.stop()  # nothing may outlive a test that could not start the service
            raise
        return self

    def ready(self, url: str | None = None) -> bool:
        try:
            return requests.get(f"{url or self.url}/readyz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def post(self, event: dict[str, Any] | bytes, secret: str = SECRET, timestamp: int | None = None,
             header: str | None = None, url: str | None = None, endpoint: str = "stripe") -> requests.Response:
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        if header is None:
            header = stripe.WebhookSignature.generate_signature_header(
                body.decode(errors="replace"), secret, timestamp=timestamp or int(time.time()))
        return requests.post(f"{url or self.url}/webhooks/{endpoint}", data=body, timeout=10,
                             headers={"Stripe-Signature": header, "Content-Type": "application/json"})

    def signal(self, name: str, sig: int) -> None:
        os.killpg(self.processes[name].pid, sig)

    def log_text(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in self.logs.values() if path.exists())

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def know_customer(service: Service, customer_id: str) -> None:
    """Put a Stripe customer in the deployment's cache, as its `customer.created` event would: known, with no
    customer-wide discount (without it, a subscription's MRR is withheld — docs/billing.md)."""
    from sqlalchemy import create_engine

    from bridge.settings import normalise_database_url
    from bridge.store.store import Store

    engine = create_engine(normalise_database_url(service.env["DATABASE_URL"]))
    try:
        Store(engine).cache_object("stripe", customer_id,
                                   {"id": customer_id, "object": "customer", "discount": None, "metadata": {}},
                                   time.time())
    finally:
        engine.dispose()
