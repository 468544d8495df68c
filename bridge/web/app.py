"""The Flask app: the webhook endpoint, liveness and readiness.

The webhook view verifies, stores and answers; it never maps or calls Pendo (the worker does), so a
slow or misconfigured Pendo never makes the provider retry. Only configured providers' endpoints are live
(`/webhooks/<name>` for the unsuffixed variables, `/webhooks/<name>/<source>` for each named source, found
through `bridge.providers.registry`); any other name answers 404. An event from a named source is stored under
the source's key (`<name>/<source>`), and an event of a connected account under that account too
(`<name>:<account>`), so
two accounts' ids never meet. A GET on a live
endpoint is a provider's check that the endpoint is its own, answered by its webhook object's `challenge`.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

from flask import Flask, Response, g, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from bridge.errors import (
    BridgeError,
    EventRefused,
    MappingError,
    PayloadError,
    RequestRejected,
    StoreUnavailable,
    TooLarge,
)
from bridge.mapping import MappingSet, load_mappings
from bridge.ops.logs import configure
from bridge.providers import Event, Provider, registry
from bridge.settings import Settings, load_settings
from bridge.store.db import describe, make_engine
from bridge.store.store import Incoming, Store
from bridge.web import api
from bridge.web.ingest import GroupCommit
from bridge.web.triage import triage

log = logging.getLogger("bridge.web")


def providers_for(settings: Settings) -> dict[str, Provider]:
    """The providers with a configured secret; only their endpoints accept events."""
    return registry.webhooks(settings.providers)


def create_app(settings: Settings | None = None, clock: Callable[[], float] = time.time) -> Flask:
    """The app factory gunicorn serves: `gunicorn 'bridge.web:create_app()'`."""
    if settings is None:
        settings = load_settings()
        configure(settings.log_format)
    app = Flask("bridge")
    app.config["MAX_CONTENT_LENGTH"] = None  # the webhook view enforces its own limit
    state = _State(settings, Store(make_engine(settings)), providers_for(settings), clock)
    log.info("webhook endpoints live", extra={"endpoints": [f"/webhooks/{name}" for name in state.providers]})

    @app.before_request
    def _request_id() -> None:
        g.request_id = (request.headers.get("X-Request-ID") or uuid.uuid4().hex)[:128]

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response

    @app.post("/webhooks/<provider>", strict_slashes=False)
    def webhook(provider: str) -> tuple[Response, int]:
        return state.receive(provider)

    @app.get("/webhooks/<provider>", strict_slashes=False)
    def challenge(provider: str) -> tuple[Response, int]:
        return state.challenge(provider)

    @app.post("/webhooks/<provider>/<source>", strict_slashes=False)
    def source_webhook(provider: str, source: str) -> tuple[Response, int]:
        return state.receive(_key(provider, source))

    @app.get("/webhooks/<provider>/<source>", strict_slashes=False)
    def source_challenge(provider: str, source: str) -> tuple[Response, int]:
        return state.challenge(_key(provider, source))

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        return jsonify(status="ok"), 200

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        return state.readiness()

    @app.get("/metrics")
    def metrics_view() -> tuple[Response, int]:
        return state.metrics()

    api.register(app, settings, state.store.engine, clock)  # /v1/...: the HTTP API (docs/api.md)
    if settings.admin_password:
        from bridge.web import admin

        admin.install(app, admin.Console(settings, state.store, tuple(state.providers), state.mappings,
                                         state.mapping_error, clock))
    return app


class _State:
    """What the views share: settings, the store, the providers, the mappings' load result."""

    def __init__(self, settings: Settings, store: Store, providers: dict[str, Provider],
                 clock: Callable[[], float]):
        self.settings, self.store, self.providers, self.clock = settings, store, providers, clock
        self.ingestion = GroupCommit(store, clock)
        self.mappings: MappingSet | None = None
        self.mapping_error: str | None = None
        try:
            self.mappings = load_mappings(settings.mappings_dir, settings.mappings_overlay_dir)
        except MappingError as exc:
            self.mapping_error = str(exc)
            log.error("mappings do not load: events are stored but not mapped", extra={"reason": str(exc)})

    def receive(self, name: str) -> tuple[Response, int]:
        provider = self.providers.get(name)
        if provider is None:
            return _error(f"no provider {name!r} is configured", 404)
        try:
            body = self._body()
            event = _received(provider, body, {k.lower(): v for k, v in request.headers.items()}, self.clock())
            key = registry.event_key(name, event.connect_account)  # a named source's, a connected account's
            if event.provider != key:
                event = replace(event, provider=key)
            status, detail = triage(event, self.settings.providers[name])
            duplicate = self.ingestion.ingest(Incoming(event, self.clock(), status, detail, _raw(body),
                                                        g.request_id))
        except RequestRejected as exc:
            log.warning("webhook rejected", extra={"provider": name, "reason": str(exc),
                                                   "request_id": g.request_id})
            return _error(str(exc), exc.status)
        except EventRefused as exc:
            log.warning("webhook rejected: the database refuses a value of the event", extra={
                "provider": name, "request_id": g.request_id, "reason": describe(exc.__cause__ or exc)})
            return _error("the event has a value the store cannot hold", 400)
        except StoreUnavailable as exc:
            log.error("webhook not stored: the database cannot commit", extra={
                "provider": name, "request_id": g.request_id, "reason": repr(exc.__cause__)[:300]})
            return _error("the event could not be stored; retry later", 503)
        log.info("webhook stored", extra={"provider": name, "event_id": event.id, "event_type": event.type,
                                          "duplicate": duplicate, "status": status,
                                          "request_id": g.request_id})
        # As `jsonify` writes it (sorted, compact, a final newline), without its per-request machinery.
        answer = json.dumps({"received": True, "event_id": event.id, "duplicate": duplicate},
                            sort_keys=True, separators=(",", ":")) + "\n"
        return Response(answer, mimetype="application/json"), 200

    def challenge(self, name: str) -> tuple[Response, int]:
        """A provider's check that the endpoint is its own (a `?bt_challenge=` query, say): the webhook object's
        `challenge(value)`, given the query's only value, answers in text/plain; 405 for a provider without one."""
        provider = self.providers.get(name)
        if provider is None:
            return _error(f"no provider {name!r} is configured", 404)
        answer = getattr(provider, "challenge", None)
        if answer is None:
            response, status = _error("this endpoint takes POST only", 405)
            response.headers["Allow"] = "POST"
            return response, status
        values = [value for _, value in request.args.items(multi=True)]
        if len(values) != 1:
            return _error("one challenge value is expected", 400)
        try:
            text = answer(values[0])
        except RequestRejected as exc:
            return _error(str(exc), exc.status)
        return Response(text, mimetype="text/plain"), 200

    def _body(self) -> bytes:
        limit = self.settings.max_body_bytes
        if (request.content_length or 0) > limit:
            raise TooLarge(f"body is larger than {limit} bytes")
        chunks, size, expected = [], 0, request.content_length
        while (expected is None or size < expected) and (chunk := request.stream.read(65536)):
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"body is larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def readiness(self) -> tuple[Response, int]:
        """Ready or not, with one short word per check: the endpoint is public, the details go to the log."""
        checks = {"database": self._database_check(), "mappings": "ok" if self.mappings else "failed",
                  "ingest": self._ingest_check()}
        ready = all(value == "ok" for value in checks.values())
        return jsonify(ready=ready, checks=checks), 200 if ready else 503

    def _database_check(self) -> str:
        try:
            self.store.ping()
        except BridgeError as exc:
            log.warning("not ready: the database does not answer", extra={"reason": describe(exc.__cause__ or exc)})
            return "failed"
        return "ok"

    def _ingest_check(self) -> str:
        if not self.ingestion.stuck():
            return "ok"
        log.error("not ready: a webhook commit has been running too long", extra={
            "commit_seconds": round(self.ingestion.commit_age(), 1)})
        return "stuck"

    def metrics(self) -> tuple[Response, int]:
        """Prometheus text; 404 unless BRIDGE_METRICS_TOKEN is set, then only with `Authorization: Bearer`."""
        from bridge.ops import metrics

        token = self.settings.metrics_token
        if not token:
            return _error("not found", 404)
        offered = request.headers.get("Authorization", "")
        if not hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
            response, status = _error("a valid Authorization: Bearer token is required", 401)
            response.headers["WWW-Authenticate"] = "Bearer"
            return response, status
        try:
            text = metrics.render(metrics.collect(self.settings, self.store, self.clock()))
        except SQLAlchemyError:
            return _error("the database does not answer", 503)
        return Response(text, mimetype="text/plain", content_type="text/plain; version=0.0.4; charset=utf-8"), 200


def _received(provider: Provider, body: bytes, headers: dict[str, str], now: float) -> Event:
    """The verified event: the webhook object's `receive(body, headers, now)` when it has one (a dedupe id or a
    time read from the headers), else `verify` then `parse`. A body carrying the sync's own mark is refused."""
    receive = getattr(provider, "receive", None)
    if receive is not None:
        event: Event = receive(body, headers, now)
    else:
        provider.verify(body, headers, now)
        event = provider.parse(body)
    if event.payload.get("bridge_sync"):
        raise PayloadError("bridge_sync is bridge's own mark for a sync's snapshots; no webhook may carry it")
    return event


def _key(provider: str, source: str) -> str:
    """The provider key a source's endpoint serves; a name that is not a source's matches no configured key."""
    return f"{provider}/{source}" if registry.SOURCE_NAME.fullmatch(source) \
        and source != registry.DEFAULT_SOURCE else "/"


def _raw(body: bytes) -> str | None:
    """The body to store as it was signed, when it is the event's payload (a JSON document); None for a form post
    (form bodies), whose parsed payload is stored as JSON instead: the worker reads the stored payload."""
    return body.decode() if body.lstrip()[:1] == b"{" else None


def _error(message: str, status: int) -> tuple[Response, int]:
    return jsonify(error=message), status
