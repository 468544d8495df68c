"""The HTTP API: your backend's track events and your database's attributes, into the same outbox as webhooks.

    POST /v1/track                 one event or an array of up to 500        scope track
    POST /v1/metadata/accounts     an array of up to 1,000 account updates   scope metadata
    POST /v1/metadata/visitors     an array of up to 1,000 visitor updates   scope metadata
    GET  /v1/schema.json           the bodies' JSON Schema
    GET  /v1/openapi.json          the OpenAPI document

Checks in order: the key (401), its scope (403), the body's size (413), the body (400, each problem with its
JSON path), the key's pace (429 with Retry-After, decided in the transaction that stores the rows), the commit
(503). `202 {"accepted": n, "duplicates": m}` only once the rows are committed. Keys never reach a log line.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, jsonify, request
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from bridge.errors import StoreUnavailable, TooLarge
from bridge.settings import Settings
from bridge.store import keys
from bridge.store.keys import ApiKey
from bridge.web import api_bodies
from bridge.web.api_bodies import BodyInvalid
from bridge.web.api_ingest import LIMITED, REVOKED, ApiIngest, Outcome, Submission
from bridge.web.api_schema import SCHEMA, openapi

log = logging.getLogger("bridge.api")

Answer = tuple[Response, int]


def register(app: Flask, settings: Settings, engine: Engine, clock: Callable[[], float] = time.time) -> None:
    """Add the API's routes to the web app."""
    api = Api(settings, engine, clock)
    app.add_url_rule("/v1/track", "api_track", api.track, methods=["POST"])
    app.add_url_rule("/v1/metadata/accounts", "api_accounts", lambda: api.metadata("accounts"), methods=["POST"])
    app.add_url_rule("/v1/metadata/visitors", "api_visitors", lambda: api.metadata("visitors"), methods=["POST"])
    app.add_url_rule("/v1/schema.json", "api_schema", lambda: (jsonify(SCHEMA), 200))
    app.add_url_rule("/v1/openapi.json", "api_openapi", lambda: (jsonify(openapi()), 200))


class Api:
    """The views' shared parts: settings, the store's engine, the group commit, the clock."""

    def __init__(self, settings: Settings, engine: Engine, clock: Callable[[], float]):
        self.settings, self.engine, self.clock = settings, engine, clock
        rate = settings.api_requests_per_second
        self.ingest = ApiIngest(engine, keys.Pace(rate, max(1, int(rate))), clock)

    def track(self) -> Answer:
        return self._receive("track", lambda key, body, now_ms: Submission(
            key.name, g.request_id, track=api_bodies.track_rows(body, now_ms, request.headers.get("Idempotency-Key"))))

    def metadata(self, name: str) -> Answer:
        return self._receive("metadata", lambda key, body, now_ms: Submission(
            key.name, g.request_id,
            metadata=api_bodies.metadata_updates(name, body, now_ms, self.settings.pendo_create_accounts)))

    def _receive(self, scope: str, build: Callable[[ApiKey, Any, int], Submission]) -> Answer:
        key = self._key()
        if isinstance(key, tuple):
            return key
        if scope not in key.scopes:
            return _error(f"the key {key.name!r} does not have the {scope} scope (bridge keys create NAME "
                          f"--scope {scope})", 403)
        try:
            submission = build(key, api_bodies.parse_json(self._body()), int(self.clock() * 1000))
        except TooLarge as exc:
            return _error(str(exc), 413)
        except BodyInvalid as exc:
            self._rejected(key, exc)
            return jsonify(error="the body is not valid", problems=[p.as_dict() for p in exc.problems]), 400
        try:
            outcome = self.ingest.submit(submission)
        except StoreUnavailable as exc:
            log.error("API request not stored: the database cannot commit", extra={
                "source": key.name, "request_id": g.request_id, "reason": repr(exc.__cause__)[:300]})
            return _error("nothing was stored: the database could not commit; send it again", 503)
        return self._answer(key, outcome, request.path)

    def _key(self) -> ApiKey | Answer:
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return _unauthorised("an Authorization: Bearer <key> header is required (bridge keys create NAME)")
        try:
            key = keys.authenticate(self.engine, presented.strip())
        except SQLAlchemyError:
            return _error("the database does not answer; send it again", 503)
        if key is None:
            log.warning("API request refused: unknown or revoked key", extra={"request_id": g.request_id})
            return _unauthorised("the key is unknown or revoked")
        return key

    def _body(self) -> bytes:
        limit = self.settings.max_body_bytes
        if (request.content_length or 0) > limit:
            raise TooLarge(f"the body is larger than {limit} bytes (BRIDGE_MAX_BODY_BYTES): send fewer items "
                           "per request")
        chunks, size = [], 0
        while chunk := request.stream.read(65536):
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"the body is larger than {limit} bytes (BRIDGE_MAX_BODY_BYTES): send fewer "
                               "items per request")
            chunks.append(chunk)
        return b"".join(chunks)

    def _rejected(self, key: ApiKey, exc: BodyInvalid) -> None:
        log.warning("API request refused: the body is not valid", extra={
            "source": key.name, "request_id": g.request_id, "path": request.path,
            "problems": [p.as_dict() for p in exc.problems[:5]]})
        try:
            with self.engine.begin() as connection:
                keys.count(connection, key.name, rejected=1)
        except SQLAlchemyError:
            log.warning("the key's rejected count could not be updated", extra={"source": key.name})

    def _answer(self, key: ApiKey, outcome: Outcome, path: str) -> Answer:
        if outcome.status == REVOKED:
            return _unauthorised("the key is unknown or revoked")
        if outcome.status == LIMITED:
            seconds = max(1, math.ceil(outcome.retry_after))
            response, status = _error(f"the key {key.name!r} is above its rate of "
                                      f"{self.settings.api_requests_per_second:g} requests per second "
                                      "(BRIDGE_API_REQUESTS_PER_SECOND); nothing was stored", 429)
            response.headers["Retry-After"] = str(seconds)
            return response, status
        log.info("API request stored", extra={"source": key.name, "path": path, "accepted": outcome.accepted,
                                              "duplicates": outcome.duplicates, "request_id": g.request_id})
        return jsonify(accepted=outcome.accepted, duplicates=outcome.duplicates), 202


def _error(message: str, status: int) -> Answer:
    return jsonify(error=message), status


def _unauthorised(message: str) -> Answer:
    response, status = _error(message, 401)
    response.headers["WWW-Authenticate"] = 'Bearer realm="bridge"'
    return response, status
