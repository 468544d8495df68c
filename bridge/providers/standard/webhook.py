"""Standard Webhooks: verification of `webhook-signature` over `"{id}.{timestamp}.{body}"`, and event parsing.

The scheme (www.standardwebhooks.com, github.com/standard-webhooks/standard-webhooks spec/standard-webhooks.md):
headers `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature`, a space-separated list of
`v1,<base64 HMAC-SHA256>` entries (other versions are ignored). The HMAC is computed over the raw body bytes, keyed
with the configured key, and compared in constant time against every entry for every key (several while a secret
is rolled). The timestamp must be within `tolerance` seconds of now, past or future.

The dedupe id is the `webhook-id` header, not a body field: `parse` takes the headers as well as the body
(`parse(body, headers)`), and `receive(body, headers, now)` verifies and parses in one call. Branded providers
(Polar) reuse `StandardVerifier` with their own key derivation and variable name.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.errors import PayloadError, SignatureError
from bridge.providers import Event, storable
from bridge.providers.bodies import derived_id, load_object, lowered
from bridge.providers.standard.config import SECRET_VARIABLE
from bridge.providers.standard.payload import iso_time

TOLERANCE = 300  # seconds, either side of now, as the specification recommends
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_MAX_ID = 255


@dataclass(frozen=True)
class SignedHeaders:
    """The three Standard Webhooks headers, read: the message id, its timestamp and its v1 signatures (decoded)."""

    id: str
    timestamp: int
    signatures: tuple[bytes, ...]


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature of a message: HMAC-SHA256 of `"{id}.{timestamp}.{body}"` keyed with `key`."""
    return "v1," + base64.b64encode(digest(key, msg_id, timestamp, body)).decode()


def digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    """The raw HMAC-SHA256 a v1 signature encodes."""
    return hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


def read_headers(headers: Mapping[str, str]) -> SignedHeaders:
    """The three headers (names in any case); SignatureError when one is missing or malformed."""
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id", "").strip()
    timestamp = lowered.get("webhook-timestamp", "").strip()
    signature = lowered.get("webhook-signature", "").strip()
    if not msg_id:
        raise SignatureError("missing webhook-id header")
    if len(msg_id) > _MAX_ID or not msg_id.isprintable():
        raise SignatureError("webhook-id header is not a message id")
    if not timestamp:
        raise SignatureError("missing webhook-timestamp header")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureError("webhook-timestamp header is not a unix time")
    if not signature:
        raise SignatureError("missing webhook-signature header")
    return SignedHeaders(msg_id, int(timestamp), _v1_signatures(signature))


def _v1_signatures(header: str) -> tuple[bytes, ...]:
    """The decoded `v1` entries of a `webhook-signature` header; an entry that is not `version,value` is refused."""
    found = []
    for entry in header.split():
        version, comma, value = entry.partition(",")
        if not comma or not version or not value:
            raise SignatureError("webhook-signature header is malformed")
        if version != "v1":
            continue
        try:
            found.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            raise SignatureError("webhook-signature header has a v1 entry that is not base64") from None
    if not found:
        raise SignatureError("webhook-signature header has no v1 signature")
    return tuple(found)


class StandardVerifier:
    """Verifies a Standard Webhooks message against any of `keys`; `variable` names the setting in messages."""

    def __init__(self, keys: tuple[bytes, ...], variable: str, tolerance: int = TOLERANCE):
        self._keys = keys
        self._variable = variable
        self._tolerance = tolerance

    def verify(self, body: bytes, headers: Mapping[str, str], now: float) -> SignedHeaders:
        """The signed headers when a v1 signature matches a key within tolerance; else SignatureError."""
        signed = read_headers(headers)
        if signed.timestamp < now - self._tolerance:
            raise SignatureError(f"webhook-timestamp is more than {self._tolerance} s old")
        if signed.timestamp > now + self._tolerance:
            raise SignatureError(f"webhook-timestamp is more than {self._tolerance} s in the future")
        if not self._matches(body, signed):
            raise SignatureError(f"no v1 signature matches a configured {self._variable}")
        return signed

    def _matches(self, body: bytes, signed: SignedHeaders) -> bool:
        expected = [digest(key, signed.id, signed.timestamp, body) for key in self._keys]
        return any(hmac.compare_digest(e, o) for e in expected for o in signed.signatures)


def message_id(headers: Mapping[str, str] | None) -> tuple[str, Mapping[str, str]]:
    """The `webhook-id` header (the dedupe key) and the headers; PayloadError when they are not given."""
    if headers is None:
        raise PayloadError("a Standard Webhooks event needs its webhook-id header: call parse(body, headers)")
    try:
        return read_headers(headers).id, headers
    except SignatureError as exc:
        raise PayloadError(str(exc)) from None


def event_time(payload: Mapping[str, Any], headers: Mapping[str, str]) -> float:
    """The body's `timestamp` (ISO 8601), else the `webhook-timestamp` header; PayloadError when the body's is bad."""
    if payload.get("timestamp") is not None:
        created = iso_time(payload["timestamp"])
        if created is None:
            raise PayloadError("body timestamp is not an ISO 8601 time")
        return created
    timestamp = lowered(headers).get("webhook-timestamp", "").strip()
    if not _TIMESTAMP.fullmatch(timestamp):
        raise PayloadError("no body timestamp, and no webhook-timestamp header with a unix time")
    return float(timestamp)


class StandardProvider:
    """A generic Standard Webhooks endpoint: verified with the standard key derivation, stored whatever its type.

    A branded provider that follows the scheme (Polar) subclasses it, naming itself and its secret's variable and,
    when its events say whose they are, overriding `customer_of_payload`."""

    name = "standard"
    kind = "Standard Webhooks event"  # what a body that is not one is said not to be
    secret_variable = SECRET_VARIABLE
    needs_headers = True  # parse reads the dedupe id from the webhook-id header

    def __init__(self, keys: tuple[bytes, ...], tolerance: int = TOLERANCE):
        self._verifier = StandardVerifier(keys, self.secret_variable, tolerance)

    def verify(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        self._verifier.verify(body, headers, now)

    def parse(self, body: bytes, headers: Mapping[str, str] | None = None) -> Event:
        """The event of a verified body; `headers` are required (they carry the id)."""
        msg_id, headers = message_id(headers)
        return self._event(load_object(body), msg_id, headers)

    def read(self, body: bytes, headers: Mapping[str, str] | None = None) -> Event:
        """The event of a body an admin chose, without a signature check: its id is the `webhook-id` header when
        given, else one derived from the body (the same body, the same id); its time is the body's `timestamp`,
        else the `webhook-timestamp` header, else PayloadError (never the time it was read)."""
        found = lowered(headers)
        msg_id = found.get("webhook-id", "").strip() or derived_id(body)
        return self._event(load_object(body), msg_id, found)

    def _event(self, payload: dict[str, Any], msg_id: str, headers: Mapping[str, str]) -> Event:
        if not isinstance(payload.get("type"), str):
            raise PayloadError(f"body is not a {self.kind}: no type")
        return storable(Event(
            provider=self.name,
            id=msg_id,
            type=payload["type"],
            created=event_time(payload, headers),
            livemode=None,
            api_version=None,
            connect_account=None,
            customer_id=self.customer_of_payload(payload),
            payload=payload,
        ))

    def customer_of_payload(self, payload: Mapping[str, Any]) -> str | None:
        """The customer a body with a string `type` is about; PayloadError when the body's shape is wrong."""
        return None

    def receive(self, body: bytes, headers: Mapping[str, str], now: float) -> Event:
        """Verify, then parse: the one call the web layer needs."""
        self.verify(body, headers, now)
        return self.parse(body, headers)
