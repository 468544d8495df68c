"""A fake Stripe API on loopback: subscriptions (with `expand[]=data.customer`), events, counted requests.

Subscriptions are made on demand from their index, so 50,000 of them cost no memory. Run alone for
benchmarks: `python -m tests.fakes.stripe --subscriptions 50000` prints its URL; `GET /_fake/state` counts.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes import LoopbackServer

START = 1_767_225_600  # 2026-01-01


def customer(index: int) -> dict[str, Any]:
    return {"id": f"cus_{index:07d}", "object": "customer", "email": f"owner@acct{index}.example",
            "livemode": True, "metadata": {"pendo_account_id": f"acct-{index}",
                                           "pendo_visitor_id": f"owner@acct{index}.example"}}


def subscription(index: int, amount: int = 4900) -> dict[str, Any]:
    """A basil-shaped subscription; its account comes from its customer's metadata."""
    price = {"id": "price_pro", "object": "price", "billing_scheme": "per_unit", "currency": "usd",
             "lookup_key": "pro_monthly", "nickname": "Pro", "unit_amount": amount,
             "unit_amount_decimal": str(amount), "type": "recurring",
             "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"}}
    item = {"id": f"si_{index:07d}", "object": "subscription_item", "price": price, "quantity": 1 + index % 5,
            "current_period_start": START, "current_period_end": START + 31 * 86400}
    return {"id": f"sub_{index:07d}", "object": "subscription", "customer": f"cus_{index:07d}",
            "currency": "usd", "status": "active" if index % 7 else "trialing", "livemode": True,
            "cancel_at": None, "cancel_at_period_end": False, "canceled_at": None,
            "trial_end": START + 14 * 86400 if index % 7 == 0 else None, "metadata": {},
            "items": {"object": "list", "data": [item]}, "discount": None, "discounts": []}


class FakeStripe(LoopbackServer):
    """Serves `count` subscriptions and a list of events; `fail_next` injects answers (e.g. 429)."""

    def __init__(self, count: int = 0, events: list[dict[str, Any]] | None = None,
                 make: Callable[[int], dict[str, Any]] = subscription, host: str = "127.0.0.1", port: int = 0):
        self.count, self.make = count, make
        self.events = sorted(events or [], key=lambda e: (-e["created"], e["id"]))  # newest first, as Stripe
        self.overrides: dict[int, dict[str, Any]] = {}
        self.paths: list[str] = []
        self.faults: list[int] = []
        self.lock = threading.Lock()
        super().__init__(_handler(self), host, port)  # started by `with`; unstarted, `answer` serves `responses`

    def fail_next(self, status: int, count: int = 1) -> None:
        with self.lock:
            self.faults.extend([status] * count)

    def subscription(self, index: int) -> dict[str, Any]:
        return self.overrides.get(index) or self.make(index)

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        with self.lock:
            self.paths.append(path)
            fault = self.faults.pop(0) if self.faults else None
        if path == "/_fake/state":
            return 200, {"requests": len(self.paths) - 1, "subscriptions": self.count}
        if fault is not None:
            return fault, {"error": {"type": "rate_limit_error" if fault == 429 else "api_error",
                                     "message": f"injected {fault}"}}
        if path == "/v1/subscriptions":
            return 200, self._subscriptions(query)
        if path == "/v1/events":
            return 200, self._events(query)
        if path.startswith("/v1/events/"):
            found = [e for e in self.events if e["id"] == path.rsplit("/", 1)[1]]
            return (200, found[0]) if found else (404, {"error": {"type": "invalid_request_error",
                                                                  "message": "No such event"}})
        if path.startswith("/v1/customers/"):
            return 200, customer(int(path.rsplit("_", 1)[1]))
        return 404, {"error": {"type": "invalid_request_error", "message": f"no route {path}"}}

    def _subscriptions(self, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = int(query.get("limit", ["10"])[0])
        after = query.get("starting_after", [None])[0]
        start = int(after.rsplit("_", 1)[1]) + 1 if after else 0
        expand = "data.customer" in query.get("expand[]", []) + query.get("expand[0]", [])
        data = []
        for index in range(start, min(start + limit, self.count)):
            sub = dict(self.subscription(index))
            if expand:
                sub["customer"] = customer(int(str(sub["customer"]).rsplit("_", 1)[1]))
            data.append(sub)
        return {"object": "list", "url": "/v1/subscriptions", "data": data,
                "has_more": start + limit < self.count}

    def _events(self, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = int(query.get("limit", ["10"])[0])
        gte = int(query.get("created[gte]", ["0"])[0])
        types = {value for key, values in query.items() if key.startswith("types[") for value in values}
        failed_only = query.get("delivery_success", [""])[0] == "false"
        found = [e for e in self.events if e["created"] >= gte and (not types or e["type"] in types)
                 and (not failed_only or e.get("_failed"))]
        after = query.get("starting_after", [None])[0]
        if after:
            found = found[[e["id"] for e in found].index(after) + 1:]
        page = [{k: v for k, v in e.items() if not k.startswith("_")} for e in found[:limit]]
        return {"object": "list", "url": "/v1/events", "data": page, "has_more": len(found) > limit}


def _handler(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            status, body = fake.answer(parts.path, parse_qs(parts.query))
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.stripe")
    parser.add_argument("--subscriptions", type=int, default=1000)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with FakeStripe(args.subscriptions, port=args.port) as fake:
        print(fake.url, flush=True)
        try:
            done.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
