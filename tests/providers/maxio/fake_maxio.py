"""A fake Maxio site on loopback, serving fixed JSON answers by path; end-to-end tests can reuse it.

It checks the API key the way Maxio does (HTTP Basic, the key as user name, `x` as password) and answers 401
otherwise, 404 for a path it has no answer for, and 429 with `Retry-After: 0` for the first `rate_limited`
requests.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


class FakeMaxio:
    """Serves `answers` (path → JSON) until closed; records the paths asked."""

    def __init__(self, api_key: str, answers: dict[str, Any]):
        self.api_key, self.answers = api_key, answers
        self.rate_limited = 0
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeMaxio:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self
        expected = "Basic " + base64.b64encode(f"{self.api_key}:x".encode()).decode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append(self.path)
                if self.headers.get("Authorization") != expected:
                    return self._send(401, {"errors": ["HTTP Basic: Access denied."]})
                if fake.rate_limited > 0:
                    fake.rate_limited -= 1
                    return self._send(429, {"errors": ["rate limited"]}, {"Retry-After": "0"})
                path = urlsplit(self.path).path
                if path not in fake.answers:
                    return self._send(404, {"errors": ["not found"]})
                return self._send(200, fake.answers[path])

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
