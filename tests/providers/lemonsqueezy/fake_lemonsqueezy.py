"""A fake Lemon Squeezy API on loopback: `GET /v1/prices/{id}`, `/v1/stores/{id}` and the paged subscription list.

It checks the bearer key (else 401) and answers JSON:API documents, with `meta.page` on the list.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class FakeLemonSqueezy:
    """Serves the given resources (JSON:API `data` objects, by type) until closed."""

    def __init__(self, api_key: str, resources: list[dict[str, Any]]):
        self.api_key, self.resources = api_key, resources
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeLemonSqueezy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str, authorization: str) -> tuple[int, dict[str, Any]]:
        self.requests.append(path)
        if authorization != f"Bearer {self.api_key}":
            return 401, {"errors": [{"status": "401", "title": "Unauthenticated."}]}
        parts = urlsplit(path)
        kind, _, resource_id = parts.path.removeprefix("/v1/").partition("/")
        if kind == "subscriptions" and not resource_id:
            return 200, self._page(parse_qs(parts.query))
        found = next((item for item in self.resources if item["type"] == kind and item["id"] == resource_id), None)
        return (200, {"jsonapi": {"version": "1.0"}, "data": found}) if found else \
            (404, {"errors": [{"status": "404", "title": "Not Found"}]})

    def _page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        size, number = int(query["page[size]"][0]), int(query["page[number]"][0])
        listed = [item for item in self.resources if item["type"] == "subscriptions"]
        last = max(1, -(-len(listed) // size))
        return {"meta": {"page": {"currentPage": number, "lastPage": last, "perPage": size, "total": len(listed)}},
                "data": listed[(number - 1) * size:number * size]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = fake.answer(self.path, self.headers.get("Authorization", ""))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/vnd.api+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
