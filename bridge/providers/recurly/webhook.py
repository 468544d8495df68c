"""Recurly: `recurly-signature` verification and parsing of its JSON webhooks.

The header is `{timestamp},{signature}[,{signature}…]`: the timestamp is unix **milliseconds**, and each signature is
the HMAC-SHA256, in hex, of `"{timestamp}.{raw body}"` keyed with the endpoint's secret as UTF-8 (the official
clients: recurly-client-ruby `Recurly::Webhooks.verify_signature`, recurly-client-go `VerifyWebhookSignature`).
Several signatures appear while Recurly rotates the secret; any one matching any configured secret is enough. The
timestamp must be within five minutes of now, in both directions.

Only JSON webhooks are read. Recurly's XML webhooks carry no signature at all, so they are refused with a message
saying to switch the endpoint to JSON. A JSON webhook is light: the object's type, the event, the time and ids
(`id`, and `uuid` or `account_code` on some objects); what the object is now is fetched from the API (`api.enrichment`).

Dedupe key: Recurly documents the body's `id` as the id of the object the event is about (the same `id` appears on
an object's `created` and later events), so `id` alone would fold a subscription's cancellation into its creation.
The key is `{object_type}.{event_type}/{id}@{event_time}`: a redelivery repeats the same body, so it repeats the key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from bridge.errors import PayloadError, SignatureError
from bridge.providers import Event, storable
from bridge.providers.bodies import load_object
from bridge.providers.recurly.config import SECRET_VARIABLE
from bridge.providers.standard.payload import iso_time

NAME = "recurly"
HEADER = "recurly-signature"
TOLERANCE_MS = 5 * 60 * 1000
MAX_HEADER = 4096  # characters; a timestamp and a few 64-character signatures
XML = ("Recurly XML webhooks are not signed and are not accepted: switch this endpoint to JSON in Recurly "
       "(Integrations > Webhooks, edit the endpoint, payload format JSON)")
_TIMESTAMP = re.compile(r"[0-9]{1,15}")


def sign(body: bytes, timestamp_ms: int, secret: str) -> str:
    """The signature Recurly computes: HMAC-SHA256 of `"{timestamp}.{body}"` keyed with the secret, in hex."""
    return hmac.new(secret.encode("utf-8"), f"{timestamp_ms}.".encode() + body, hashlib.sha256).hexdigest()


def read_signature_header(header: str) -> tuple[int, tuple[str, ...]]:
    """The timestamp (ms) and signatures of a `recurly-signature` header; SignatureError when malformed."""
    if len(header) > MAX_HEADER:
        raise SignatureError("recurly-signature header is too long")
    timestamp, *rest = [part.strip() for part in header.split(",")]
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureError("recurly-signature header does not start with a timestamp in milliseconds")
    signatures = tuple(part for part in rest if part)
    if not signatures:
        raise SignatureError("recurly-signature header has no signature")
    return int(timestamp), signatures


def is_xml(body: bytes, headers: Mapping[str, str]) -> bool:
    """Whether the request is one of Recurly's XML webhooks (by its content type or its first character)."""
    return "xml" in headers.get("content-type", "").lower() or body.lstrip()[:1] == b"<"


class RecurlyProvider:
    """Verifies `recurly-signature` against any configured secret; parses JSON webhooks."""

    name = NAME

    def __init__(self, secrets: tuple[str, ...], tolerance_ms: int = TOLERANCE_MS):
        self._secrets = secrets
        self._tolerance_ms = tolerance_ms

    def verify(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        """Raise SignatureError unless signed by a configured secret within five minutes; XML is a PayloadError."""
        if is_xml(body, headers):
            raise PayloadError(XML)
        header = headers.get(HEADER, "")
        if not header:
            raise SignatureError("missing recurly-signature header (is the endpoint's payload format JSON?)")
        timestamp, signatures = read_signature_header(header)
        self._check_time(timestamp, now)
        offered = [signature.encode("utf-8", "replace") for signature in signatures]
        expected = [sign(body, timestamp, secret).encode() for secret in self._secrets]
        if not any([hmac.compare_digest(e, o) for e in expected for o in offered]):
            raise SignatureError(f"no signature matches a configured {SECRET_VARIABLE}")

    def _check_time(self, timestamp_ms: int, now: float) -> None:
        now_ms = now * 1000
        if timestamp_ms < now_ms - self._tolerance_ms:
            raise SignatureError(f"signature timestamp is more than {self._tolerance_ms // 1000} s old")
        if timestamp_ms > now_ms + self._tolerance_ms:
            raise SignatureError(f"signature timestamp is more than {self._tolerance_ms // 1000} s in the future")

    def parse(self, body: bytes, headers: Mapping[str, str] | None = None) -> Event:
        """The event of a verified JSON body (`headers` only serve to recognise XML)."""
        if is_xml(body, headers or {}):
            raise PayloadError(XML)
        return storable(event(load_object(body)))

    def receive(self, body: bytes, headers: Mapping[str, str], now: float) -> Event:
        """Verify, then parse: the one call the web layer needs."""
        self.verify(body, headers, now)
        return self.parse(body, headers)


def event(payload: Mapping[str, Any]) -> Event:
    """A JSON webhook as an `Event`; PayloadError when a required field is missing."""
    for key in ("id", "object_type", "event_type"):
        if not isinstance(payload.get(key), str) or not payload[key]:
            raise PayloadError(f"body is not a Recurly JSON webhook: no {key}")
    created = iso_time(payload.get("event_time"))
    if created is None:
        raise PayloadError("body is not a Recurly JSON webhook: event_time is not an ISO 8601 time")
    kind = f"{payload['object_type']}.{payload['event_type']}"
    return Event(
        provider=NAME,
        id=f"{kind}/{payload['id']}@{payload['event_time']}",
        type=kind,
        created=created,
        livemode=None,  # sandbox and production are separate sites with their own endpoints and secrets
        api_version=None,
        connect_account=None,
        customer_id=payload["id"] if payload["object_type"] == "account" else None,
        payload=payload,
    )
