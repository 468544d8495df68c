"""The loopback part every fake provider API shares: a JSON server, the key check, 429s on demand, a request log.

A fake names the `Authorization` header its provider expects (`basic` and `bearer` build one) and answers
`route(path, headers)` with a status and a JSON body; this class serves it on 127.0.0.1 until closed, answers 401
(`unauthorized`) to any other key, and answers 429 with `Retry-After` to the next `rate_limited` requests.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


def basic(user: str, password: str) -> str:
    """An HTTP Basic `Authorization` header."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def bearer(token: str) -> str:
    """A bearer `Authorization` header."""
    return f"Bearer {token}"


class FakeProviderApi:
    """Serves `route`'s answers on loopback until closed; records each path asked, query included."""

    base_path = ""  # what the API's address adds to the host, e.g. "/api/v2"
    content_type = "application/json"

    def __init__(self, authorization: str, *, unauthorized: Any = None, too_many: Any = None, retry_after: str = "1"):
        """`unauthorized` and `too_many` are the bodies of a 401 and a 429; `retry_after` goes with each 429."""
        self.authorization, self.retry_after = authorization, retry_after
        self.unauthorized = unauthorized if unauthorized is not None else {"error": "unauthorized"}
        self.too_many = too_many if too_many is not None else {"error": "rate limited"}
        self.rate_limited = 0  # how many of the next requests answer 429
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.base_path}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def route(self, path: str, headers: Mapping[str, str]) -> tuple[int, Any]:
        """The status and JSON body for an authorised, not rate-limited `GET path` (header names in lower case)."""
        raise NotImplementedError

    def serve(self, path: str, headers: Mapping[str, str]) -> tuple[int, Any, dict[str, str]]:
        """What to send for `GET path` (header names in lower case): the key check, any pending 429, `route`."""
        self.requests.append(path)
        if headers.get("authorization", "") != self.authorization:
            return 401, self.unauthorized, {}
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return 429, self.too_many, {"Retry-After": self.retry_after}
        status, body = self.route(path, headers)
        return status, body, {}


def _handler(fake: FakeProviderApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body, headers = fake.serve(self.path, {name.lower(): value for name, value in self.headers.items()})
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", fake.content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
