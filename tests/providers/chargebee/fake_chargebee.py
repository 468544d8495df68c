"""A fake Chargebee API on loopback: `GET /api/v2/subscriptions` (offset paging) and `GET /api/v2/events/{id}`.

It checks the API key the way Chargebee does (Basic, the key as username, empty password), answers 401 for any
other, and can be told to answer 429 with `Retry-After` a number of times first. End-to-end tests can reuse it.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


class FakeChargebee:
    """Serves given subscriptions (list entries) and events until closed."""

    def __init__(self, api_key: str, entries: list[dict[str, Any]], events: dict[str, dict[str, Any]]):
        self.api_key, self.entries, self.events = api_key, entries, events
        self.rate_limited = 0  # how many of the next requests answer 429
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api/v2"

    def __enter__(self) -> FakeChargebee:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str, authorization: str) -> tuple[int, dict[str, Any]]:
        self.requests.append(path)
        expected = "Basic " + base64.b64encode(f"{self.api_key}:".encode()).decode()
        if authorization != expected:
            return 401, {"api_error_code": "api_authentication_failed", "http_status_code": 401}
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return 429, {"api_error_code": "api_request_limit_exceeded", "http_status_code": 429}
        parts = urlsplit(path)
        if parts.path == "/api/v2/subscriptions":
            return 200, self._page(parse_qs(parts.query))
        if parts.path.startswith("/api/v2/events/"):
            event = self.events.get(unquote(parts.path.removeprefix("/api/v2/events/")))
            if event is None:
                return 404, {"api_error_code": "resource_not_found", "http_status_code": 404}
            return 200, {"event": event}
        return 404, {"api_error_code": "resource_not_found", "http_status_code": 404}

    def _page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        limit = int(query.get("limit", ["10"])[0])
        start = int(query.get("offset", ["0"])[0])
        page: dict[str, Any] = {"list": self.entries[start:start + limit]}
        if start + limit < len(self.entries):
            page["next_offset"] = str(start + limit)
        return page

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = fake.answer(self.path, self.headers.get("Authorization", ""))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
