"""Chargebee: HTTP Basic verification of its webhook and parsing of its events.

Chargebee signs nothing (apidocs.chargebee.com/docs/api/events; chargebee.com/docs/webhook_settings.html): the
only protection it offers is HTTP Basic authentication with a username and password chosen in its dashboard.
So the check is the `Authorization` header against the configured pair, compared in constant time; the body
itself is not authenticated, which is why, with an API key, the event is fetched again by id before it is
trusted (`api.ChargebeeApi.event`). Events are deduplicated on their `id` (`ev_…`) and ordered by
`occurred_at` (unix seconds). Payloads carry no test/live flag: a test site is a separate site.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from bridge.errors import PayloadError, SignatureError
from bridge.providers import Event, storable
from bridge.providers.bodies import MAX_DEPTH as MAX_DEPTH
from bridge.providers.bodies import read_json
from bridge.providers.values import text

NAME = "chargebee"
MAX_HEADER = 4096  # characters of an Authorization header worth decoding


def basic_credentials(header: str) -> bytes:
    """The `user:password` bytes of a `Basic` Authorization header; SignatureError when it is not one."""
    if len(header) > MAX_HEADER:
        raise SignatureError("Authorization header is too long")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":  # RFC 7617: the scheme name is case-insensitive
        raise SignatureError("Authorization header is not Basic authentication")
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("Authorization header's Basic credentials are not base64") from None
    if b":" not in decoded:
        raise SignatureError("Authorization header's Basic credentials have no ':'")
    return decoded


def authorization(username: str, password: str) -> str:
    """The header Chargebee sends for a webhook protected by this username and password (RFC 7617)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class ChargebeeProvider:
    """Checks the Basic credentials Chargebee sends; parses its events."""

    name = NAME

    def __init__(self, username: str, password: str):
        # Digests of equal length, so the comparison takes the same time whatever the offered length. RFC 7617
        # leaves the charset to the sender: UTF-8, and ISO-8859-1 for credentials it can encode, are both accepted.
        credentials = f"{username}:{password}"
        encodings = {credentials.encode("utf-8")}
        try:
            encodings.add(credentials.encode("latin-1"))
        except UnicodeEncodeError:
            pass
        self._expected = tuple(hashlib.sha256(encoded).digest() for encoded in encodings)

    def verify(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        """Raise SignatureError unless the Basic credentials match (Chargebee has no timestamp: `now` is unused)."""
        header = headers.get("authorization", "")
        if not header:
            raise SignatureError("missing Authorization header (protect the Chargebee webhook with basic "
                                 "authentication)")
        offered = hashlib.sha256(basic_credentials(header)).digest()
        if not any([hmac.compare_digest(offered, expected) for expected in self._expected]):
            raise SignatureError("Basic credentials do not match CHARGEBEE_WEBHOOK_USERNAME and "
                                 "CHARGEBEE_WEBHOOK_PASSWORD")
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            raise PayloadError("body is not UTF-8") from None

    def parse(self, body: bytes) -> Event:
        return storable(event_of(read_json(body)))


def event_of(payload: Any) -> Event:
    """An `Event` from a Chargebee event object (a webhook body, or the API's `event`); PayloadError if not one."""
    if not isinstance(payload, dict) or not isinstance(payload.get("id"), str):
        raise PayloadError("body is not a Chargebee event: no event id")
    if payload.get("object", "event") != "event":
        raise PayloadError("body is not a Chargebee event: object is not 'event'")
    if not isinstance(payload.get("event_type"), str):
        raise PayloadError("body is not a Chargebee event: no event_type")
    content = payload.get("content")
    if not isinstance(content, dict):
        raise PayloadError("body is not a Chargebee event: no content")
    return Event(
        provider=NAME,
        id=payload["id"],
        type=payload["event_type"],
        created=_unix_time(payload.get("occurred_at")),
        livemode=None,  # Chargebee marks no mode: a test site is another site with its own webhook
        api_version=text(payload.get("api_version")),
        connect_account=None,
        customer_id=customer_of(content),
        payload=payload,
    )


def customer_of(content: Mapping[str, Any]) -> str | None:
    """The customer an event's content is about: its customer, else the id its other resources name."""
    customer = content.get("customer")
    if isinstance(customer, dict) and text(customer.get("id")):
        return text(customer.get("id"))
    for key in ("subscription", "invoice", "transaction", "credit_note"):
        resource = content.get(key)
        if isinstance(resource, dict) and text(resource.get("customer_id")):
            return text(resource.get("customer_id"))
    return None


def _unix_time(value: object) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise PayloadError("body is not a Chargebee event: occurred_at is not a unix time")
    try:
        return float(value)
    except OverflowError:  # an integer of hundreds of digits
        raise PayloadError("body is not a Chargebee event: occurred_at is not a unix time") from None
