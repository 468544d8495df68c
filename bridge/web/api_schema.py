"""The HTTP API's bodies as a JSON Schema (served at `/v1/schema.json`), and the OpenAPI document around it.

The server validates every body against this very schema (`bridge.web.api_validate`), so the two cannot drift.
Two rules JSON Schema has no keyword for are vendor keywords: `x-maxBytes` (a string's UTF-8 length) and
`x-maxJsonBytes` (an object's compact JSON length, as Pendo measures track properties). Rules about time — a track
event older than Pendo's 7-day window, any time more than 5 minutes ahead — depend on the clock and are checked
after the schema; the descriptions say so.
"""

from __future__ import annotations

from typing import Any

from bridge.pendo.client import (
    FIELD_NAME_RULE,
    ID_MAX_CHARS,
    METADATA_BATCH_MAX,
    PROPERTIES_MAX_BYTES,
    TEXT_MAX_CHARS,
    VISITOR_ID_MAX_BYTES,
)
from bridge.pendo.times import ISO_8601

SCHEMA_ID = "/v1/schema.json"
TRACK_BATCH_MAX = 500
MESSAGE_ID_MAX_CHARS = 200  # stored after the key's name in a 255-character column
PROPERTY_NAME = "^[A-Za-z_][A-Za-z0-9_]{0,31}$"
FIELD_NAME = FIELD_NAME_RULE


NO_NUL = "^[^\\u0000]*$"  # the database keeps no NUL character in an id


def _text(max_chars: int, description: str, max_bytes: int | None = None, key: bool = False) -> dict[str, Any]:
    """A non-empty string; a `key` (an id the store indexes) also without NUL characters."""
    node: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": max_chars, "description": description}
    if max_bytes is not None:
        node["x-maxBytes"] = max_bytes
    if key:
        node.update(pattern=NO_NUL, description=description + ", without NUL characters")
    return node


_TIME = {
    "description": "epoch milliseconds, or an ISO 8601 time with its zone (2026-01-31T09:30:00Z); at most 5 "
                   "minutes ahead of the server's clock",
    "anyOf": [{"type": "integer", "minimum": 0},
              {"type": "string", "pattern": ISO_8601, "description": "an ISO 8601 time with its zone, e.g. "
                                                                     "2026-01-31T09:30:00Z"}],
}
_VISITOR_ID = _text(VISITOR_ID_MAX_BYTES, f"text of at most {VISITOR_ID_MAX_BYTES} bytes of UTF-8 (Pendo truncates "
                    "longer ids)", VISITOR_ID_MAX_BYTES, key=True)
_ACCOUNT_ID = _text(ID_MAX_CHARS, f"text of at most {ID_MAX_CHARS} characters", key=True)
_VALUE = {
    "description": f"text (at most {TEXT_MAX_CHARS} characters), a number or a boolean",
    "anyOf": [{"type": "string", "maxLength": TEXT_MAX_CHARS}, {"type": "number"}, {"type": "boolean"}],
}

TRACK_EVENT: dict[str, Any] = {
    "type": "object",
    "description": "One track event. The timestamp (default: when bridge received it) must be within Pendo's "
                   "7-day window, which Pendo enforces by dropping older events silently.",
    "required": ["event", "visitorId"],
    "additionalProperties": False,
    "properties": {
        "event": _text(ID_MAX_CHARS, "the event's name, e.g. Report Exported"),
        "visitorId": _VISITOR_ID,
        "accountId": _ACCOUNT_ID,
        "timestamp": _TIME,
        "properties": {
            "type": "object",
            "description": f"a flat object of at most {PROPERTIES_MAX_BYTES} bytes as compact JSON",
            "x-maxJsonBytes": PROPERTIES_MAX_BYTES,
            "propertyNames": {"pattern": PROPERTY_NAME,
                              "description": "letters, digits and _, at most 32, not starting with a digit"},
            "additionalProperties": {"type": ["string", "number", "boolean", "null"],
                                     "description": "a flat value: text, number, boolean or null"},
        },
        "messageId": _text(MESSAGE_ID_MAX_CHARS, "your id for this event: the same id from the same key is "
                           "stored once", key=True),
    },
}


def _update(id_key: str, id_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [id_key, "values"],
        "additionalProperties": False,
        "properties": {
            id_key: id_schema,
            "values": {
                "type": "object", "minProperties": 1,
                "description": "custom field values; each replaces the stored one only if its timestamp is newer",
                "propertyNames": {"pattern": FIELD_NAME, "description": "letters, digits and _, not starting "
                                  "with a digit (a Pendo field name)"},
                "additionalProperties": _VALUE,
            },
            "timestamp": {**_TIME, "description": "when the values were true (default: when bridge received them): "
                          "an older timestamp never overwrites a newer value. " + str(_TIME["description"])},
        },
    }


def _array(item: str, most: int) -> dict[str, Any]:
    return {"type": "array", "minItems": 1, "maxItems": most, "items": {"$ref": f"#/$defs/{item}"}}


SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "bridge HTTP API request bodies",
    "$defs": {
        "trackEvent": TRACK_EVENT,
        "accountUpdate": _update("accountId", _ACCOUNT_ID),
        "visitorUpdate": _update("visitorId", _VISITOR_ID),
        "trackBody": {"description": "one event, or an array of up to 500",
                      "anyOf": [{"$ref": "#/$defs/trackEvent"}, _array("trackEvent", TRACK_BATCH_MAX)]},
        "accountsBody": _array("accountUpdate", METADATA_BATCH_MAX),
        "visitorsBody": _array("visitorUpdate", METADATA_BATCH_MAX),
    },
}

BODIES = {"track": "trackBody", "accounts": "accountsBody", "visitors": "visitorsBody"}


def body_schema(name: str) -> dict[str, Any]:
    """The schema of one endpoint's body (`track`, `accounts`, `visitors`): a reference into SCHEMA."""
    return {"$ref": f"#/$defs/{BODIES[name]}"}


def _responses(accepted: str) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {
        "202": {"description": accepted, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Accepted"}}}},
        "400": {**error, "description": "the body is not valid: `problems` names the JSON path of each bad field"},
        "401": {**error, "description": "the Authorization header is missing, or the key is unknown or revoked"},
        "403": {**error, "description": "the key does not have this endpoint's scope"},
        "413": {**error, "description": "the body is larger than BRIDGE_MAX_BODY_BYTES"},
        "429": {**error, "description": "above the key's rate (BRIDGE_API_REQUESTS_PER_SECOND); see Retry-After",
                "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}},
        "503": {**error, "description": "the store could not commit: nothing was stored, send it again"},
    }


def _operation(summary: str, body: str, scope: str, accepted: str, extra: list[Any] | None = None) -> dict[str, Any]:
    return {
        "summary": summary, "security": [{"bearer": []}], "x-scope": scope, "parameters": extra or [],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"{SCHEMA_ID}#/$defs/{body}"}}}},
        "responses": _responses(accepted),
    }


def openapi(server_url: str = "/") -> dict[str, Any]:
    """The OpenAPI 3.1 document of the HTTP API; request bodies refer to the served JSON Schema."""
    idempotency = {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"},
                   "description": "for a single event without messageId: its messageId"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "bridge HTTP API", "version": "1",
                 "description": "Your own backend's events and your database's attributes, through bridge's "
                                "durable store and delivery to Pendo. See docs/api.md."},
        "servers": [{"url": server_url}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "a key from `bridge keys create NAME`"}},
            "schemas": {
                "Accepted": {"type": "object", "required": ["accepted", "duplicates"], "properties": {
                    "accepted": {"type": "integer", "description": "items stored by this request"},
                    "duplicates": {"type": "integer", "description": "items that changed nothing: a messageId "
                                   "already stored, or values equal to (or older than) the stored ones"}}},
                "Error": {"type": "object", "required": ["error"], "properties": {
                    "error": {"type": "string"},
                    "problems": {"type": "array", "items": {"type": "object", "properties": {
                        "path": {"type": "string"}, "message": {"type": "string"}}}}}},
            },
        },
        "paths": {
            "/v1/track": {"post": _operation("Send track events", "trackBody", "track",
                                             "stored; delivered to Pendo by the worker", [idempotency])},
            "/v1/metadata/accounts": {"post": _operation("Set account custom fields", "accountsBody", "metadata",
                                                         "stored; coalesced and delivered by the worker")},
            "/v1/metadata/visitors": {"post": _operation("Set visitor custom fields", "visitorsBody", "metadata",
                                                         "stored; coalesced and delivered by the worker")},
        },
    }
