"""`bridge demo`: the service on a local SQLite file, a generated secret, and a stand-in for Pendo.

It signs the bundled sample events with the generated secret, posts them to its own webhook endpoint,
and prints every request the stand-in receives: what Pendo would get, without a Pendo account.
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from bridge.ops.logs import configure
from bridge.providers import registry
from bridge.settings import Settings
from bridge.store.db import migrate
from bridge.worker.serve import serve


class _StandIn(BaseHTTPRequestHandler):
    """Answers like Pendo does when every id and field exists, and prints what it was sent."""

    def do_GET(self) -> None:
        self._answer({"valid": True, "writeAccess": True})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"null")
        print(f"\n--> Pendo received: POST {self.path}\n{json.dumps(body, indent=2)}", flush=True)
        rows = len(body) if isinstance(body, list) else 1
        self._answer({"total": rows, "updated": rows, "failed": 0})

    def _answer(self, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        return


def demo_package() -> Any:
    """The first registered provider that has demo samples (`demo_config`, `demo_deliveries`)."""
    return next(each for each in registry.packages() if hasattr(each, "demo_deliveries"))


def _post_samples(url: str, secret: str) -> None:
    for _ in range(100):
        try:
            if requests.get(f"{url}/readyz", timeout=2).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.2)
    package = demo_package()
    for name, body, headers in package.demo_deliveries(secret, int(time.time())):
        endpoint = f"/webhooks/{package.NAME}"
        answer = requests.post(f"{url}{endpoint}", data=body, timeout=10, headers=headers)
        print(f"\n<-- POST {endpoint} ({name}): {answer.status_code} {answer.text.strip()}", flush=True)


def _mappings_dir() -> Path:
    """`mappings/` here, else the one shipped beside the package (an editable install)."""
    here = Path("mappings")
    return here if here.is_dir() else Path(__file__).resolve().parents[2] / "mappings"


def _admin_line(url: str, settings: Settings) -> str:
    if settings.admin_password:
        return f"Admin console: {url}/admin (log in with the password in BRIDGE_ADMIN_PASSWORD)."
    return "Admin console: off; set BRIDGE_ADMIN_PASSWORD (12 characters or more) to open it at /admin."


def run_demo(port: int, admin: Settings | None = None) -> int:
    """The demo; `admin` carries BRIDGE_ADMIN_PASSWORD and BRIDGE_REDACT_FIELDS from the environment, if set."""
    standin = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    threading.Thread(target=standin.serve_forever, daemon=True).start()
    pendo_url = f"http://127.0.0.1:{standin.server_address[1]}"
    secret = "whsec_demo_" + secrets.token_hex(16)
    settings = Settings(
        database_url=f"sqlite:///{Path('bridge-demo.db').resolve()}", port=port,
        providers={demo_package().NAME: demo_package().demo_config(secret)},
        pendo_integration_key=secrets.token_hex(8),
        pendo_track_secret=secrets.token_hex(8), pendo_api_base=pendo_url, pendo_data_base=pendo_url,
        log_format="text", worker_poll_seconds=0.2, mappings_dir=_mappings_dir(),
        admin_password=admin.admin_password if admin else None,
        redact_fields=admin.redact_fields if admin else Settings.redact_fields,
    )
    configure("text")
    migrate(settings)
    url = f"http://127.0.0.1:{port}"
    print(f"bridge demo on {url} (database bridge-demo.db, stand-in Pendo on {pendo_url}).\n"
          f"Webhook secret for this run: {secret}\n{_admin_line(url, settings)}\nCtrl-C stops.",
          file=sys.stderr, flush=True)
    threading.Thread(target=_post_samples, args=(url, secret), daemon=True).start()
    serve(settings, bind=f"127.0.0.1:{port}")
    return 0
