"""Paddle Billing: `Paddle-Signature` verification and notification parsing.

The header is `ts=…;h1=…[;h1=…]`; each `h1` is the HMAC-SHA256, in hex, of `"{ts}:{raw body}"` keyed with the
whole notification secret (`pdl_ntfset_…`) as UTF-8 (developer.paddle.com/webhooks/signature-verification).
Paddle's own SDK refuses a header with a key it does not know; this reader ignores such keys, so a scheme
Paddle adds later does not stop deliveries that still carry an `h1`. The header is read once: exactly one
`ts`, checked against the tolerance both ways, and the same `ts` signed.

Paddle Classic signed form-encoded bodies with a `p_signature` field; such a request is refused with a
message saying so, since only Paddle Billing's notifications are read.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.errors import PayloadError, SignatureError
from bridge.providers import Event, storable
from bridge.providers.bodies import MAX_DEPTH as MAX_DEPTH
from bridge.providers.bodies import read_json
from bridge.providers.paddle.fields import rfc3339

NAME = "paddle"
HEADER = "paddle-signature"
CLASSIC = ("Paddle Classic webhooks (a p_signature form field) are not supported: this endpoint takes Paddle "
           "Billing notifications, signed with a Paddle-Signature header")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True)
class SignatureHeader:
    """A `Paddle-Signature` header, read: its one timestamp and its `h1` signatures."""

    timestamp: int
    signatures: tuple[str, ...]


def read_signature_header(header: str) -> SignatureHeader:
    """Read `ts=…;h1=…[;h1=…]`, ignoring other keys; SignatureError unless one valid `ts` and an `h1`."""
    timestamps, signatures = [], []
    for part in header.split(";"):
        key, _, value = part.partition("=")
        key = key.strip()
        if key == "ts":
            timestamps.append(value.strip())
        elif key == "h1" and value.strip():
            signatures.append(value.strip())
    if len(timestamps) > 1:
        raise SignatureError("Paddle-Signature header has more than one timestamp")
    if not timestamps or not _TIMESTAMP.fullmatch(timestamps[0]):
        raise SignatureError("Paddle-Signature header has no valid timestamp (ts)")
    if not signatures:
        raise SignatureError("Paddle-Signature header has no h1 signature")
    return SignatureHeader(int(timestamps[0]), tuple(signatures))


def sign(body: bytes, timestamp: int, secret: str) -> str:
    """The `h1` Paddle computes: HMAC-SHA256 of `"{ts}:{body}"` keyed with the whole secret, in hex."""
    return hmac.new(secret.encode(), f"{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def is_classic(body: bytes) -> bool:
    """Whether the body is a Paddle Classic form post (a `p_signature` field), not a Billing notification."""
    start = body.lstrip()[:1]
    return start not in (b"{", b"[") and re.search(rb"(?:^|&)p_signature=", body) is not None


class PaddleProvider:
    """Verifies `Paddle-Signature` against any configured secret; parses Paddle Billing notifications."""

    name = NAME

    def __init__(self, secrets: tuple[str, ...], tolerance: int = 300):
        self._secrets = secrets
        self._tolerance = tolerance

    def verify(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        header = headers.get(HEADER, "")
        if not header:
            if is_classic(body):
                raise PayloadError(CLASSIC)
            raise SignatureError("missing Paddle-Signature header")
        signed = read_signature_header(header)
        self._check_time(signed.timestamp, now)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            raise PayloadError("body is not UTF-8") from None
        if not self._matches(body, signed):
            raise SignatureError("no h1 signature matches a configured PADDLE_WEBHOOK_SECRET")

    def _matches(self, body: bytes, signed: SignatureHeader) -> bool:
        """Any `h1` against any secret (several while a secret is replaced), each compared in constant time."""
        offered = [signature.encode("utf-8", "replace") for signature in signed.signatures]
        expected = [sign(body, signed.timestamp, secret).encode() for secret in self._secrets]
        return any(hmac.compare_digest(e, o) for e in expected for o in offered)

    def _check_time(self, timestamp: int, now: float) -> None:
        if timestamp < now - self._tolerance:
            raise SignatureError(f"signature timestamp is more than {self._tolerance} s old")
        if timestamp > now + self._tolerance:
            raise SignatureError(f"signature timestamp is more than {self._tolerance} s in the future")

    def parse(self, body: bytes) -> Event:
        if is_classic(body):
            raise PayloadError(CLASSIC)
        return storable(event(read_json(body)))


def event(payload: Any) -> Event:
    """A notification as an `Event`: deduplicated on `event_id` (a replay gets a new `notification_id`)."""
    if not isinstance(payload, dict):
        raise PayloadError("body is not a Paddle notification: not a JSON object")
    for field in ("event_id", "event_type"):
        if not isinstance(payload.get(field), str) or not payload[field]:
            raise PayloadError(f"body is not a Paddle notification: no {field}")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise PayloadError("body is not a Paddle notification: data is not an object")
    occurred = rfc3339(payload.get("occurred_at"))
    if occurred is None:
        raise PayloadError("body is not a Paddle notification: occurred_at is not an RFC 3339 time")
    return Event(
        provider=NAME,
        id=payload["event_id"],
        type=payload["event_type"],
        created=occurred,
        livemode=None,  # the payload does not say; the sandbox has its own destinations and secrets
        api_version=None,
        connect_account=None,
        customer_id=customer_of(payload["event_type"], data),
        payload=payload,
    )


def customer_of(event_type: str, data: Mapping[str, Any]) -> str | None:
    """The Paddle customer (`ctm_…`) the entity belongs to: the entity itself for `customer.*`."""
    value = data.get("id") if event_type.startswith("customer.") else data.get("customer_id")
    return value if isinstance(value, str) and value else None
