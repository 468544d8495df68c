"""Pendo HTTP client and the pure rules that shape what is sent to it.

Errors raised (see `bridge.errors`): `PendoAuthError` on 401/403, `PendoTransient` on connection
errors, timeouts, 408, 409, 429 and 5xx (with `retry_after` from `Retry-After`), `PendoError` on any
other refusal, and `ConfigError` when the credential an endpoint needs is not set.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from bridge.errors import ConfigError, PendoAuthError, PendoError, PendoTransient
from bridge.mapping.operations import TrackEvent
from bridge.settings import Settings

KEY_HEADER = "x-pendo-integration-key"
ID_KEYS = {"account": "accountId", "visitor": "visitorId"}
FIELD_TYPES = ("string", "number", "time", "boolean")
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FIELD_NAME_RULE = "^[A-Za-z_][A-Za-z0-9_]{0,254}$"  # a JSON Schema pattern: what the API and imports accept
ID_MAX_CHARS = 255  # account ids (and event names) the store keeps
PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
PROPERTIES_MAX_BYTES = 512
VISITOR_ID_MAX_BYTES = 128
TEXT_MAX_CHARS = 1500
TRACK_MAX_AGE_MS = 7 * 24 * 3600 * 1000
METADATA_BATCH_MAX = 1000
SNIPPET_CHARS = 300
TRANSIENT_STATUSES = frozenset({408, 409, 429})
# Keys of an error entry that are structure, not field names, so a field called e.g. "error" is not blamed.
ERROR_STRUCTURE_KEYS = frozenset({"accountId", "visitorId", "id", "error", "errors", "message", "reason"})


@dataclass(frozen=True)
class TokenStatus:
    """What `GET /api/v1/token/verify` says about the integration key."""

    valid: bool
    write_access: bool


@dataclass(frozen=True)
class BulkResult:
    """Pendo's counts for one bulk metadata request; a 200 can still carry failed rows."""

    total: int = 0
    updated: int = 0
    failed: int = 0
    missing: list[str] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when Pendo reported no failed, missing or erroneous row."""
        return not (self.failed or self.missing or self.errors)

    def unknown_fields(self, sent_field_names: Iterable[str]) -> set[str]:
        """Return the sent field names that some error entry mentions as a whole word."""
        texts = [_error_text(entry) for entry in self.errors]
        return {name for name in sent_field_names if any(_mentions(text, name) for text in texts)}

    def failed_ids(self) -> set[str] | None:
        """Return the ids of failed rows (missing or named by an error), or None if not all are named."""
        ids = set(self.missing) | {i for entry in self.errors if (i := _error_id(entry)) is not None}
        return ids if len(ids) >= self.failed else None


def _error_text(entry: Any) -> str:
    """Flatten an error entry into searchable text, leaving out ids and structural keys."""
    if isinstance(entry, Mapping):
        parts = [str(k) for k in entry if k not in ERROR_STRUCTURE_KEYS]
        parts += [_error_text(v) for k, v in entry.items() if k not in ID_KEYS.values() and k != "id"]
        return "\n".join(parts)
    if isinstance(entry, list):
        return "\n".join(_error_text(item) for item in entry)
    return entry if isinstance(entry, str) else json.dumps(entry)


def _mentions(text: str, name: str) -> bool:
    """Tell whether `name` occurs in `text` as a whole identifier word."""
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text) is not None


def _error_id(entry: Any) -> str | None:
    """Return the account or visitor id an error entry names, if any."""
    if not isinstance(entry, Mapping):
        return None
    for key in (*ID_KEYS.values(), "id"):
        if isinstance(entry.get(key), str | int):
            return str(entry[key])
    return None


def parse_bulk_result(body: Any) -> BulkResult:
    """Read Pendo's bulk answer leniently: absent or malformed counts are 0, absent lists empty."""
    if not isinstance(body, Mapping):
        return BulkResult()
    missing, errors = body.get("missing"), body.get("errors")
    return BulkResult(
        total=_count(body.get("total")),
        updated=_count(body.get("updated")),
        failed=_count(body.get("failed")),
        missing=[str(i) for i in missing] if isinstance(missing, list) else [],
        errors=list(errors) if isinstance(errors, list) else ([errors] if errors else []),
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date), None if unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(text).timestamp() - now
        except (TypeError, ValueError, IndexError):
            return None
    else:
        if seconds < 0 or not math.isfinite(seconds):
            return None
    return max(0.0, seconds)


# ---- pure payload rules -------------------------------------------------------------------------


def is_expired(timestamp_ms: int, now_ms: int) -> bool:
    """Tell whether Pendo would silently drop a track event with this timestamp (older than 7 days)."""
    return now_ms - timestamp_ms > TRACK_MAX_AGE_MS


def compact_json(value: Any) -> bytes:
    """Encode as Pendo's size limits are measured here: compact, UTF-8, no NaN."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def track_payload(op: TrackEvent) -> tuple[dict[str, Any], list[str]]:
    """Build the `/data/track` body for `op`, dropping what Pendo would reject, with a warning each."""
    properties, warnings = _valid_properties(op.properties)
    warnings += _fit_properties(properties)
    if len(op.visitor_id.encode()) > VISITOR_ID_MAX_BYTES:
        warnings.append(f"visitorId is over {VISITOR_ID_MAX_BYTES} bytes; Pendo truncates it")
    payload: dict[str, Any] = {"type": "track", "event": op.event, "visitorId": op.visitor_id}
    if op.account_id is not None:
        payload["accountId"] = op.account_id
    payload.update(timestamp=int(op.timestamp), properties=properties, context={})
    return payload, warnings


def _valid_properties(properties: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Keep the properties whose name Pendo accepts and whose value is a flat JSON scalar."""
    kept: dict[str, Any] = {}
    warnings: list[str] = []
    for name, value in properties.items():
        if not isinstance(name, str) or not PROPERTY_NAME.match(name):
            warnings.append(f"property {name!r} dropped: names are [A-Za-z0-9_], ≤32 chars, no leading digit")
        elif not _is_scalar(value):
            warnings.append(f"property {name!r} dropped: its value is not a flat JSON scalar")
        else:
            kept[name] = value
    return kept, warnings


def _is_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)


def _fit_properties(properties: dict[str, Any]) -> list[str]:
    """Drop the largest properties, in place, until their JSON fits Pendo's 512-byte budget."""
    warnings = []
    while len(compact_json(properties)) > PROPERTIES_MAX_BYTES:
        name = max(properties, key=lambda n: (len(compact_json({n: properties[n]})), n))
        del properties[name]
        warnings.append(f"property {name!r} dropped: properties JSON is over {PROPERTIES_MAX_BYTES} bytes")
    return warnings


def metadata_values(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Return `values` with text over Pendo's 1,500-character limit truncated, with a warning each."""
    shaped: dict[str, Any] = {}
    warnings: list[str] = []
    for name, value in values.items():
        if isinstance(value, str) and len(value) > TEXT_MAX_CHARS:
            value = value[:TEXT_MAX_CHARS]
            warnings.append(f"field {name!r} truncated to {TEXT_MAX_CHARS} characters")
        shaped[name] = value
    return shaped, warnings


def _id_key(kind: str) -> str:
    try:
        return ID_KEYS[kind]
    except KeyError:
        raise ValueError(f"metadata kind must be one of {', '.join(ID_KEYS)}, not {kind!r}") from None


# ---- the client ---------------------------------------------------------------------------------


class PendoClient:
    """Talks to Pendo's metadata API and track endpoint; one short retry on connection errors only."""

    def __init__(
        self,
        settings: Settings,
        session: requests.Session | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ):
        self._settings = settings
        self._session = session or requests.Session()
        self._timeout = timeout
        self._clock = clock

    def verify_token(self) -> TokenStatus:
        """Ask Pendo whether the integration key is valid and may write."""
        body = _json_or_none(self._api("GET", "/api/v1/token/verify"))
        if not isinstance(body, Mapping):
            raise PendoError("Pendo answered token/verify with something other than a JSON object", 200)
        return TokenStatus(valid=body.get("valid") is True, write_access=body.get("writeAccess") is True)

    def send_metadata(
        self, kind: str, updates: Sequence[tuple[str, Mapping[str, Any]]], create: bool = False
    ) -> BulkResult:
        """Set custom fields of up to 1,000 accounts or visitors, given as (id, values) pairs."""
        id_key = _id_key(kind)
        if not updates:
            return BulkResult()
        if len(updates) > METADATA_BATCH_MAX:
            raise ValueError(f"at most {METADATA_BATCH_MAX} rows per bulk request, not {len(updates)}")
        rows = [{id_key: row_id, "values": dict(values)} for row_id, values in updates]
        params = {"create": "true"} if create else None
        response = self._api("POST", f"/api/v1/metadata/{kind}/custom/value", rows, params)
        return parse_bulk_result(_json_or_none(response))

    def send_track(self, payload: Mapping[str, Any]) -> None:
        """Send one track event; any 2xx is success and the body is not read."""
        secret = self._secret(self._settings.pendo_track_secret, "PENDO_TRACK_EVENT_SECRET")
        self._send("POST", self._settings.pendo_data_base, "/data/track", secret, payload)

    def get_schema(self, kind: str) -> dict[str, dict[str, Any]]:
        """Return the `custom` metadata fields of `kind`: field name → Pendo's descriptor."""
        _id_key(kind)
        body = _json_or_none(self._api("GET", f"/api/v1/metadata/schema/{kind}"))
        if not isinstance(body, Mapping):
            raise PendoError(f"Pendo answered the {kind} schema with something other than a JSON object", 200)
        custom = body.get("custom")
        if not isinstance(custom, dict):
            return {}
        return {str(name): spec for name, spec in custom.items() if isinstance(spec, dict)}

    def create_fields(self, kind: str, fields: Sequence[tuple[str, str]]) -> None:
        """Create custom fields of `kind` from (name, type) pairs; types are string, number, time, boolean."""
        _id_key(kind)
        for name, field_type in fields:
            if not FIELD_NAME.match(name) or field_type not in FIELD_TYPES:
                raise ValueError(f"cannot create field {name!r} of type {field_type!r}")
        if fields:
            body = [{"name": n, "displayname": n, "type": t} for n, t in fields]
            self._api("POST", f"/api/v1/metadata/schema/{kind}/custom", body)

    def _api(
        self, method: str, path: str, body: Any = None, params: Mapping[str, str] | None = None
    ) -> requests.Response:
        secret = self._secret(self._settings.pendo_integration_key, "PENDO_INTEGRATION_KEY")
        return self._send(method, self._settings.pendo_api_base, path, secret, body, params)

    @staticmethod
    def _secret(value: str | None, setting: str) -> str:
        if not value:
            raise ConfigError(f"{setting} is not set")
        return value

    def _send(
        self,
        method: str,
        base: str,
        path: str,
        secret: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Make one request, retried once at once on a connection error, and map failures to errors."""
        headers = {KEY_HEADER: secret, "Content-Type": "application/json", "Accept": "application/json"}
        data = None if body is None else compact_json(body)
        url = base.rstrip("/") + path
        for attempt in (1, 2):
            try:
                response = self._session.request(
                    method, url, params=params, data=data, headers=headers, timeout=self._timeout
                )
                break
            except requests.ConnectionError as exc:
                # A connect timeout already spent the whole timeout: leave it to the worker's retries.
                if attempt == 2 or isinstance(exc, requests.ConnectTimeout):
                    raise self._network_error(method, path, exc) from None
            except requests.RequestException as exc:
                raise self._network_error(method, path, exc) from None
        self._check(method, path, response)
        return response

    def _network_error(self, method: str, path: str, exc: Exception) -> PendoTransient:
        detail = self._redact(str(exc))[:SNIPPET_CHARS]
        return PendoTransient(f"Pendo {method} {path} failed: {type(exc).__name__}: {detail}")

    def _check(self, method: str, path: str, response: requests.Response) -> None:
        """Raise the error a non-2xx answer means, naming the status and a short redacted part of the body."""
        status = response.status_code
        if 200 <= status < 300:
            return
        snippet = self._redact(response.text)[:SNIPPET_CHARS]
        message = f"Pendo answered {status} to {method} {path}: {snippet}"
        if status in (401, 403):
            raise PendoAuthError(message + " (wrong key, read-only key or wrong region?)", status)
        if status in TRANSIENT_STATUSES or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
            raise PendoTransient(message, status, retry_after)
        raise PendoError(message, status)

    def _redact(self, text: str) -> str:
        """Remove both credentials from text that may end up in a message or a log."""
        for secret in (self._settings.pendo_integration_key, self._settings.pendo_track_secret):
            if secret:
                text = text.replace(secret, "[redacted]")
        return text


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
