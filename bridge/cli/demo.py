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
from importlib import resources
from pathlib import Path

import requests
import stripe

from bridge.ops.logs import configure
from bridge.providers.stripe import StripeConfig
from bridge.settings import Settings
from bridge.store.db import migrate
from bridge.worker.serve import serve

SAMPLES = ("customer.subscription.created.json", "invoice.paid.json")


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


TIME_KEYS = {"created", "current_period_start", "current_period_end", "paid_at"}


def _shift_times(value: object, now: int) -> object:
    """The samples hold times as offsets from now (0 is now); make them real unix times."""
    if isinstance(value, dict):
        return {k: v + now if k in TIME_KEYS and isinstance(v, int) else _shift_times(v, now)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_shift_times(item, now) for item in value]
    return value


def sample(name: str, now: int) -> bytes:
    """A bundled sample event, its times relative to `now`."""
    text = resources.files("bridge.providers.stripe.samples").joinpath(name).read_text()
    return json.dumps(_shift_times(json.loads(text), now)).encode()


def _post_samples(url: str, secret: str) -> None:
    for _ in range(100):
        try:
            if requests.get(f"{url}/readyz", timeout=2).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.2)
    for name in SAMPLES:
        now = int(time.time())
        body = sample(name, now)
        header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp=now)
        answer = requests.post(f"{url}/webhooks/stripe", data=body, timeout=10,
                               headers={"Stripe-Signature": header, "Content-Type": "application/json"})
        print(f"\n<-- POST /webhooks/stripe ({name}): {answer.status_code} {answer.text.strip()}", flush=True)


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
        providers={"stripe": StripeConfig(webhook_secrets=(secret,), mode="both")},
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
