"""A fake Recurly API v3 on loopback: subscriptions (by id or `uuid-`), accounts, plans, and the paged list.

It checks what Recurly checks — Basic auth with the key as username and an empty password (else 401) and the
versioned `Accept` header (else 406) — and pages `GET /subscriptions` with `has_more` and a `next` path.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from bridge.providers.recurly.api import ACCEPT


class FakeRecurly:
    """Serves the given subscriptions, accounts and plans until closed."""

    def __init__(self, api_key: str, subscriptions: list[dict[str, Any]], accounts: list[dict[str, Any]],
                 plans: list[dict[str, Any]]):
        self.api_key, self.subscriptions = api_key, subscriptions
        self.accounts, self.plans = accounts, plans
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeRecurly:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str, authorization: str, accept: str) -> tuple[int, dict[str, Any]]:
        self.requests.append(path)
        if authorization != "Basic " + base64.b64encode(f"{self.api_key}:".encode()).decode():
            return 401, {"error": {"type": "unauthorized", "message": "Invalid API key"}}
        if accept != ACCEPT:
            return 406, {"error": {"type": "invalid_api_version"}}
        parts = urlsplit(path)
        if parts.path == "/subscriptions":
            return 200, self._page(parse_qs(parts.query))
        kind, _, reference = parts.path.strip("/").partition("/")
        table = {"subscriptions": self.subscriptions, "accounts": self.accounts, "plans": self.plans}.get(kind, [])
        found = next((item for item in table if _matches(item, unquote(reference))), None)
        return (200, found) if found else (404, {"error": {"type": "not_found"}})

    def _page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = int(query.get("limit", ["20"])[0])
        start = int(query.get("cursor", ["0"])[0])
        more = start + limit < len(self.subscriptions)
        return {"object": "list", "has_more": more, "data": self.subscriptions[start:start + limit],
                "next": f"/subscriptions?cursor={start + limit}&limit={limit}" if more else None}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = fake.answer(self.path, self.headers.get("Authorization", ""),
                                           self.headers.get("Accept", ""))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def _matches(item: dict[str, Any], reference: str) -> bool:
    if reference.startswith("uuid-"):
        return bool(item.get("uuid") == reference.removeprefix("uuid-"))
    if reference.startswith("code-"):
        return bool(item.get("code") == reference.removeprefix("code-"))
    return bool(item.get("id") == reference)
