"""Stripe: `Stripe-Signature` verification and event parsing.

The header is read once, by `read_signature_header`: exactly one timestamp `t` and its `v1` signatures (other
schemes are ignored). The tolerance and the HMAC-SHA256 of `"{t}.{body}"` are both checked against that one
`t`, so no second reading of the header can disagree with the first. The scheme is Stripe's
(docs.stripe.com/webhooks/signatures); the official `stripe` library signs in the tests, as the oracle.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge.errors import PayloadError, SignatureError
from bridge.providers import Event, storable
from bridge.providers.bodies import MAX_DEPTH, nests_too_deep

_TIMESTAMP = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True)
class SignatureHeader:
    """A `Stripe-Signature` header, read: its one timestamp and its `v1` signatures."""

    timestamp: int
    signatures: tuple[str, ...]


def read_signature_header(header: str) -> SignatureHeader:
    """Read `t=…,v1=…[,v1=…]`; raise SignatureError unless there is exactly one valid `t` and a `v1`."""
    timestamps, signatures = [], []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamps.append(value.strip())
        elif key == "v1":
            signatures.append(value.strip())
    if len(timestamps) > 1:
        raise SignatureError("Stripe-Signature header has more than one timestamp")
    if not timestamps or not _TIMESTAMP.fullmatch(timestamps[0]):
        raise SignatureError("Stripe-Signature header has no valid timestamp")
    if not signatures:
        raise SignatureError("Stripe-Signature header has no v1 signature")
    return SignatureHeader(int(timestamps[0]), tuple(signatures))


def sign(body: bytes, timestamp: int, secret: str) -> str:
    """The v1 signature Stripe computes: HMAC-SHA256 of `"{t}.{body}"` keyed with the whole secret, in hex."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


class StripeProvider:
    """Verifies Stripe's signature over the raw body against any configured secret; parses its events."""

    name = "stripe"

    def __init__(self, secrets: tuple[str, ...], tolerance: int = 300):
        self._secrets = secrets
        self._tolerance = tolerance

    def verify(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        header = headers.get("stripe-signature", "")
        if not header:
            raise SignatureError("missing Stripe-Signature header")
        signed = read_signature_header(header)
        self._check_time(signed.timestamp, now)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            raise PayloadError("body is not UTF-8") from None
        if not self._matches(body, signed):
            raise SignatureError("no v1 signature matches a configured STRIPE_WEBHOOK_SECRET")

    def _matches(self, body: bytes, signed: SignatureHeader) -> bool:
        """Any v1 signature against any secret (several while a secret is rolled), each compared in constant time."""
        offered = [signature.encode() for signature in signed.signatures]
        expected = [sign(body, signed.timestamp, secret).encode() for secret in self._secrets]
        return any(hmac.compare_digest(e, o) for e in expected for o in offered)

    def _check_time(self, timestamp: int, now: float) -> None:
        if timestamp < now - self._tolerance:
            raise SignatureError(f"signature timestamp is more than {self._tolerance} s old")
        if timestamp > now + self._tolerance:
            raise SignatureError(f"signature timestamp is more than {self._tolerance} s in the future")

    def parse(self, body: bytes) -> Event:
        return storable(self._event(_json(body)))

    def _event(self, payload: Any) -> Event:
        if not isinstance(payload, dict) or not isinstance(payload.get("id"), str):
            raise PayloadError("body is not a Stripe event: no event id")
        if payload.get("object") == "v2.core.event" or _is_thin(payload):
            return _thin_event(payload)
        if payload.get("object") != "event" or not isinstance(payload.get("type"), str):
            raise PayloadError("body is not a Stripe event: object is not 'event'")
        data = payload.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
            raise PayloadError("body is not a Stripe event: no data.object")
        return Event(
            provider=self.name,
            id=payload["id"],
            type=payload["type"],
            created=_unix_time(payload.get("created")),
            livemode=_bool_or_none(payload.get("livemode")),
            api_version=_str_or_none(payload.get("api_version")),
            connect_account=_str_or_none(payload.get("account")),
            customer_id=customer_of(data["object"]),
            payload=payload,
        )


def customer_of(obj: Mapping[str, Any]) -> str | None:
    """The Stripe customer id an object belongs to (the object itself for a customer)."""
    if obj.get("object") == "customer":
        return _str_or_none(obj.get("id"))
    customer = obj.get("customer")
    if isinstance(customer, dict):
        return _str_or_none(customer.get("id"))
    return _str_or_none(customer)


def _json(body: bytes) -> Any:
    """The body's JSON, no deeper than MAX_DEPTH; the C parser raises RecursionError well before the stack ends.
    Unlike `bodies.read_json` it reads NaN and Infinity, so that a non-finite `created` is refused by name."""
    try:
        payload = json.loads(body)
    except RecursionError:
        raise PayloadError(f"body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise PayloadError("body is not JSON") from None
    if nests_too_deep(body, payload):
        raise PayloadError(f"body nests deeper than {MAX_DEPTH} levels")
    return payload


def _unix_time(created: object) -> float:
    if not isinstance(created, int | float) or isinstance(created, bool):
        raise PayloadError("body is not a Stripe event: created is not a unix time")
    try:
        return float(created)
    except OverflowError:  # an integer of hundreds of digits
        raise PayloadError("body is not a Stripe event: created is not a unix time") from None


def _is_thin(payload: Mapping[str, Any]) -> bool:
    return isinstance(payload.get("created"), str) and "data" not in payload and "related_object" in payload


def _thin_event(payload: Mapping[str, Any]) -> Event:
    """A v2 'thin' event notification: stored, not mapped (it carries no object snapshot)."""
    try:
        created = datetime.fromisoformat(str(payload.get("created")).replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError):
        raise PayloadError("thin event has no valid created time") from None
    return Event(
        provider="stripe",
        id=payload["id"],
        type=str(payload.get("type") or "unknown"),
        created=created,
        livemode=_bool_or_none(payload.get("livemode")),
        api_version=None,
        connect_account=_str_or_none(payload.get("context") or None),
        customer_id=None,
        payload=payload,
        thin=True,
    )


def _bool_or_none(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
