"""The API's request bodies into what the outbox stores: Pendo track payloads and metadata updates.

A body is checked against the served JSON Schema first (`api_validate`), then against the rules that depend on
the clock: a track event older than Pendo's 7-day window is refused (Pendo would accept it and drop it
silently), and no time may be more than 5 minutes ahead (a metadata value from the future would outrank every
real update behind the ordering guard).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bridge.errors import RequestRejected
from bridge.mapping.operations import MetadataUpdate
from bridge.pendo import client as pendo
from bridge.pendo.times import epoch_ms, too_far_ahead
from bridge.web.api_compiled import Compiled
from bridge.web.api_schema import BODIES, MESSAGE_ID_MAX_CHARS, SCHEMA, body_schema
from bridge.web.api_validate import Problem, Validator, child

MAX_PROBLEMS = 50  # a body of 1,000 bad rows gets the first 50
ID_KEYS = {"accounts": ("account", "accountId"), "visitors": ("visitor", "visitorId")}
_VALIDATOR = Validator(SCHEMA)
_COMPILED = Compiled(SCHEMA)


class BodyInvalid(RequestRejected):
    """A body that does not match the API's schema or rules; `problems` name the JSON path of each."""

    def __init__(self, problems: list[Problem]):
        super().__init__(f"the body has {len(problems)} problem(s): see problems")
        self.problems = problems[:MAX_PROBLEMS]


@dataclass(frozen=True)
class TrackRow:
    """One track event as the outbox stores it."""

    message_id: str | None
    payload: dict[str, Any]
    timestamp_ms: int


def parse_json(raw: bytes) -> Any:
    """The body as JSON; NaN and Infinity, which Python would accept, are not JSON."""
    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    try:
        return json.loads(raw, parse_constant=refuse)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyInvalid([Problem("$", f"is not JSON: {exc}")]) from None


def _checked(name: str, body: Any) -> None:
    """The compiled check lets a good body through; a bad one is walked again to name each problem."""
    if not _COMPILED.valid(BODIES[name], body):
        raise BodyInvalid(_VALIDATOR.problems(body_schema(name), body) or [Problem("$", "does not match the "
                                                                                      "schema")])


def _time(value: Any, default_ms: int, now_ms: int, path: str, problems: list[Problem]) -> int:
    if value is None:
        return default_ms
    try:
        moment = epoch_ms(value)
    except ValueError as exc:
        problems.append(Problem(path, str(exc)))
        return default_ms
    if too_far_ahead(moment, now_ms):
        problems.append(Problem(path, "is more than 5 minutes ahead of the server's clock (timestamps are epoch "
                                      "milliseconds or ISO 8601 with a zone)"))
    return moment


def track_rows(body: Any, now_ms: int, idempotency_key: str | None = None) -> list[TrackRow]:
    """The track events of a `/v1/track` body; BodyInvalid naming every bad field."""
    _checked("track", body)
    single = isinstance(body, dict)
    problems: list[Problem] = []
    if idempotency_key is not None and not single:
        problems.append(Problem("header Idempotency-Key", "applies to a single event: give each event of an array "
                                                          "its own messageId"))
    if idempotency_key is not None and not 0 < len(idempotency_key) <= MESSAGE_ID_MAX_CHARS:
        problems.append(Problem("header Idempotency-Key", f"must be 1 to {MESSAGE_ID_MAX_CHARS} characters"))
    rows = []
    for index, item in enumerate([body] if single else body):
        path = "$" if single else child("$", index)
        moment = _time(item.get("timestamp"), now_ms, now_ms, child(path, "timestamp"), problems)
        if pendo.is_expired(moment, now_ms):
            problems.append(Problem(child(path, "timestamp"), "is older than Pendo's 7-day window: Pendo would "
                                    "drop the event silently, so it is refused (timestamps are epoch milliseconds)"))
        message_id = item.get("messageId") or (idempotency_key if single else None)
        rows.append(TrackRow(message_id, _payload(item, moment), moment))
    if problems:
        raise BodyInvalid(problems)
    return rows


def _payload(item: dict[str, Any], moment: int) -> dict[str, Any]:
    """The `/data/track` body of a valid event, as `pendo.track_payload` shapes the mappings' events."""
    payload: dict[str, Any] = {"type": "track", "event": item["event"], "visitorId": item["visitorId"]}
    if "accountId" in item:
        payload["accountId"] = item["accountId"]
    payload.update(timestamp=moment, properties=item.get("properties") or {}, context={})
    return payload


def metadata_updates(name: str, body: Any, now_ms: int, create: bool) -> list[MetadataUpdate]:
    """The updates of a `/v1/metadata/{accounts,visitors}` body; a later entry wins a tie with an earlier one."""
    _checked(name, body)
    kind, id_key = ID_KEYS[name]
    problems: list[Problem] = []
    updates = [
        MetadataUpdate(kind, item[id_key], dict(item["values"]),
                       _time(item.get("timestamp"), now_ms, now_ms, child(child("$", index), "timestamp"), problems),
                       rank=index, create=create, rule="api")
        for index, item in enumerate(body)
    ]
    if problems:
        raise BodyInvalid(problems)
    return updates
