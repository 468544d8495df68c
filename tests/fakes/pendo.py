"""A fake Pendo: a real HTTP server on loopback that enforces the contract in shared/docs/pendo-api.md.

Run alone for benchmarks: `python -m tests.fakes.pendo --port 0 --latency 0.05` prints its URL.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes import LoopbackServer

ID_KEYS = {"account": "accountId", "visitor": "visitorId"}
FIELD_TYPES = ("string", "number", "time", "boolean")
BULK_PATH = re.compile(r"^/api/v1/metadata/(account|visitor)/custom/value$")
SCHEMA_PATH = re.compile(r"^/api/v1/metadata/schema/(account|visitor)(/custom)?$")
NO_BODY = object()
DEFAULT_INTEGRATION_KEY = "test-integration-key"
DEFAULT_TRACK_SECRET = "test-track-secret"


@dataclass(frozen=True)
class Recorded:
    """One request the fake received, with the status it answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any
    time: float
    status: int = 0


@dataclass
class Fault:
    """Queued injected failures: `count` answers of `status` to paths starting with `prefix`."""

    count: int
    status: int
    retry_after: float | str | None
    prefix: str | None


@dataclass
class Answer:
    """What the fake sends back."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class FakePendo(LoopbackServer):
    """In-process fake of Pendo's metadata API and track endpoint, safe to call from many threads."""

    def __init__(
        self,
        integration_key: str = DEFAULT_INTEGRATION_KEY,
        track_secret: str = DEFAULT_TRACK_SECRET,
        known_accounts: Iterable[str] | None = None,
        known_visitors: Iterable[str] | None = None,
        fields: dict[str, dict[str, str]] | None = None,
        write_access: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.integration_key = integration_key
        self.track_secret = track_secret
        self.write_access = write_access
        self.latency = 0.0
        self._known: dict[str, set[str] | None] = {
            "account": None if known_accounts is None else set(known_accounts),
            "visitor": None if known_visitors is None else set(known_visitors),
        }
        self._fields: dict[str, dict[str, str]] = {k: dict((fields or {}).get(k, {})) for k in ID_KEYS}
        self._any_field = fields is None
        self._values: dict[tuple[str, str], dict[str, Any]] = {}
        self._changed: dict[tuple[str, str, str], float] = {}  # when each (kind, id, field) last took a new value
        self._rows: list[tuple[str, dict[str, Any]]] = []
        self._tracks: list[dict[str, Any]] = []
        self._records: list[Recorded] = []
        self._faults: list[Fault] = []
        self._auth_ok = True
        self._lock = threading.Lock()
        super().__init__(_handler_for(self), host, port)

    # ---- test controls ----

    def fail_next(
        self,
        n: int,
        status: int = 503,
        retry_after: float | str | None = None,
        path_prefix: str | None = None,
    ) -> None:
        """Answer the next `n` requests (to paths under `path_prefix`, if given) with `status`."""
        with self._lock:
            self._faults.append(Fault(n, status, retry_after, path_prefix))

    def set_auth_ok(self, ok: bool) -> None:
        """While False, every request is refused with 403, as after a revoked key."""
        with self._lock:
            self._auth_ok = ok

    def know_only(self, kind: str, ids: Iterable[str]) -> None:
        """From now on Pendo knows only these ids of `kind` (others are reported missing)."""
        with self._lock:
            self._known[kind] = set(ids)

    def add_field(self, kind: str, name: str, field_type: str = "string") -> None:
        """Create a custom field, as an admin would in Pendo's settings."""
        with self._lock:
            self._fields[kind][name] = field_type

    def add_known_account(self, account_id: str) -> None:
        """Make Pendo know an account id (as if the browser snippet had seen it)."""
        self._add_known("account", account_id)

    def add_known_visitor(self, visitor_id: str) -> None:
        """Make Pendo know a visitor id."""
        self._add_known("visitor", visitor_id)

    def _add_known(self, kind: str, row_id: str) -> None:
        with self._lock:
            known = self._known[kind]
            if known is not None:
                known.add(row_id)

    # ---- what was received ----

    @property
    def requests(self) -> list[Recorded]:
        """Every request received, in order."""
        with self._lock:
            return list(self._records)

    def calls(self, path_prefix: str) -> list[Recorded]:
        """The requests whose path starts with `path_prefix`."""
        return [r for r in self.requests if r.path.startswith(path_prefix)]

    def metadata_rows(self, kind: str) -> list[dict[str, Any]]:
        """Every metadata row of `kind` that was accepted, in order."""
        with self._lock:
            return [row for k, row in self._rows if k == kind]

    def track_events(self) -> list[dict[str, Any]]:
        """Every track event accepted, in order."""
        with self._lock:
            return list(self._tracks)

    def account_values(self, account_id: str) -> dict[str, Any]:
        """The merged custom values Pendo now holds for an account."""
        return self.values("account", account_id)

    def visitor_values(self, visitor_id: str) -> dict[str, Any]:
        """The merged custom values Pendo now holds for a visitor."""
        return self.values("visitor", visitor_id)

    def values(self, kind: str, row_id: str) -> dict[str, Any]:
        """The merged custom values Pendo now holds for an account or visitor."""
        with self._lock:
            return dict(self._values.get((kind, row_id), {}))

    def schema(self, kind: str) -> dict[str, str]:
        """The custom fields of `kind` the fake knows: name → type."""
        with self._lock:
            return dict(self._fields[kind])

    # ---- serving ----

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Answer:
        """Answer one request and record it."""
        parts = urlsplit(target)
        body = _parse_json(raw)
        time.sleep(self.latency)
        with self._lock:
            answer = self._answer(method, parts.path, parse_qs(parts.query), headers, body)
            recorded = None if body is NO_BODY else body
            query = parse_qs(parts.query)
            if not parts.path.startswith("/_fake/"):  # a benchmark's own polling is not traffic to count
                self._records.append(Recorded(method, parts.path, query, headers, recorded, time.time(),
                                              answer.status))
        return answer

    def _answer(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: Any
    ) -> Answer:
        if path == "/_fake/state":
            return Answer(200, self._state())
        if path == "/_fake/field":
            return Answer(200, self._field(query.get("kind", ["account"])[-1], query.get("name", [""])[-1]))
        fault = self._take_fault(path)
        if fault is not None:
            extra = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            return Answer(fault.status, {"error": f"injected {fault.status}"}, extra)
        if not self._authorised(path, headers.get("x-pendo-integration-key")):
            return Answer(403, {"error": "forbidden"})
        if method == "POST" and not headers.get("content-type", "").startswith("application/json"):
            return Answer(400, {"error": "Content-Type must be application/json"})
        return self._route(method, path, query, body)

    def _state(self) -> dict[str, Any]:
        """Counts for a benchmark: requests, bulk metadata requests with their first/last time, the most
        data requests (metadata and track) seen within any one second, rows and track events received."""
        metadata = [r.time for r in self._records if BULK_PATH.match(r.path)]
        tracks = [r.time for r in self._records if r.path == "/data/track" and r.status == 200]
        sent = [r.time for r in self._records if BULK_PATH.match(r.path) or r.path == "/data/track"]
        busiest, start = 0, 0
        for end, at in enumerate(sent):
            while at - sent[start] >= 1.0:
                start += 1
            busiest = max(busiest, end - start + 1)
        return {"requests": len(self._records), "metadata_requests": len(metadata),
                "metadata_first_at": metadata[0] if metadata else None,
                "metadata_last_at": metadata[-1] if metadata else None,
                "max_data_requests_in_one_second": busiest, "rows": len(self._rows), "tracks": len(self._tracks),
                "track_first_at": tracks[0] if tracks else None, "track_last_at": tracks[-1] if tracks else None}

    def _field(self, kind: str, name: str) -> dict[str, Any]:
        """For a benchmark: each row's current value of one field, and when that value arrived."""
        return {row_id: {"value": values[name], "changed_at": self._changed.get((kind, row_id, name))}
                for (row_kind, row_id), values in self._values.items() if row_kind == kind and name in values}

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.prefix is None or path.startswith(fault.prefix):
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _authorised(self, path: str, key: str | None) -> bool:
        expected = self.track_secret if path.startswith("/data/") else self.integration_key
        return self._auth_ok and key == expected

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        if (method, path) == ("POST", "/data/track"):
            return self._track(body)
        if (method, path) == ("GET", "/api/v1/token/verify"):
            return Answer(200, {"valid": True, "writeAccess": self.write_access})
        if method == "POST" and (match := BULK_PATH.match(path)):
            create = query.get("create", [""])[-1].lower() == "true"
            return self._bulk(match.group(1), body, create) if self.write_access else _read_only()
        if match := SCHEMA_PATH.match(path):
            return self._schema(method, match.group(1), bool(match.group(2)), body)
        return Answer(404, {"error": f"no route {method} {path}"})

    def _track(self, body: Any) -> Answer:
        problem = _track_problem(body)
        if problem:
            return Answer(400, {"error": problem})
        self._tracks.append(body)
        return Answer(200)

    def _bulk(self, kind: str, body: Any, create: bool) -> Answer:
        if not isinstance(body, list):
            return Answer(400, {"error": "body must be a JSON array"})
        result: dict[str, Any] = {"total": len(body), "updated": 0, "failed": 0, "missing": [], "errors": []}
        for row in body:
            self._bulk_row(kind, row, create, result)
        return Answer(200, result)

    def _bulk_row(self, kind: str, row: Any, create: bool, result: dict[str, Any]) -> None:
        id_key = ID_KEYS[kind]
        row_id = row.get(id_key) if isinstance(row, dict) else None
        values = row.get("values") if isinstance(row, dict) else None
        if not isinstance(row_id, str) or not isinstance(values, dict):
            result["failed"] += 1
            result["errors"].append({"error": f"row needs a string {id_key} and a values object"})
            return
        known = self._known[kind]
        if known is not None and row_id not in known:
            if not create:
                result["failed"] += 1
                result["missing"].append(row_id)
                return
            known.add(row_id)
        unknown = [] if self._any_field else [name for name in values if name not in self._fields[kind]]
        if unknown:
            result["failed"] += 1
            errors = [{id_key: row_id, "error": f"field '{name}' does not exist"} for name in unknown]
            result["errors"] += errors
            return
        result["updated"] += 1
        self._rows.append((kind, row))
        stored = self._values.setdefault((kind, row_id), {})
        now = time.time()
        for name, value in values.items():
            if name not in stored or stored[name] != value:
                self._changed[(kind, row_id, name)] = now
        stored.update(values)
        for name in [name for name, value in values.items() if value is None]:
            del stored[name]  # JSON null empties the field, as Pendo's bulk metadata API does

    def _schema(self, method: str, kind: str, custom_group: bool, body: Any) -> Answer:
        if method == "GET" and not custom_group:
            fields = {n: _descriptor(n, t) for n, t in self._fields[kind].items()}
            return Answer(200, {"custom": fields})
        if method == "POST" and custom_group:
            return self._create_fields(kind, body) if self.write_access else _read_only()
        return Answer(405, {"error": "method not allowed"})

    def _create_fields(self, kind: str, body: Any) -> Answer:
        if not isinstance(body, list) or not all(_is_field_spec(spec) for spec in body):
            return Answer(400, {"error": 'body must be [{"name", "displayname", "type"}]'})
        for spec in body:
            self._fields[kind][spec["name"]] = spec["type"]
        return Answer(200, [_descriptor(spec["name"], spec["type"]) for spec in body])


def _read_only() -> Answer:
    return Answer(403, {"error": "integration key does not have write access"})


def _descriptor(name: str, field_type: str) -> dict[str, Any]:
    return {"type": field_type, "displayName": name, "isHidden": False, "isDeleted": False}


def _is_field_spec(spec: Any) -> bool:
    return (
        isinstance(spec, dict)
        and isinstance(spec.get("name"), str)
        and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", spec["name"]) is not None
        and spec.get("type") in FIELD_TYPES
    )


def _track_problem(body: Any) -> str | None:
    """Say why a track body is refused, or None when it is acceptable."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    if body.get("type") != "track":
        return 'type must be "track"'
    for name in ("event", "visitorId"):
        if not isinstance(body.get(name), str) or not body[name]:
            return f"{name} is required"
    timestamp = body.get("timestamp")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        return "timestamp must be an integer in epoch milliseconds"
    return None


def _parse_json(raw: bytes) -> Any:
    if not raw:
        return NO_BODY
    try:
        return json.loads(raw)
    except ValueError:
        return NO_BODY


def _handler_for(fake: FakePendo) -> type[BaseHTTPRequestHandler]:
    """Build a request handler class bound to one fake."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer = fake.handle(self.command, self.path, headers, raw)
            payload = b"" if answer.body is None else json.dumps(answer.body).encode()
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if answer.body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet: tests read `fake.requests` instead."""

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve a fake Pendo until interrupted, printing its URL first."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.pendo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--integration-key", default=DEFAULT_INTEGRATION_KEY)
    parser.add_argument("--track-secret", default=DEFAULT_TRACK_SECRET)
    args = parser.parse_args(argv)
    fake = FakePendo(args.integration_key, args.track_secret, host=args.host, port=args.port)
    fake.latency = args.latency
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with fake:
        print(fake.url, flush=True)
        try:
            done.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
