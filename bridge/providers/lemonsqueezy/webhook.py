"""Lemon Squeezy: `X-Signature` verification and parsing of its webhook requests.

`X-Signature` is the HMAC-SHA256, in hex, of the raw body keyed with the webhook's signing secret
(docs.lemonsqueezy.com/help/webhooks/signing-requests). Nothing else is signed: there is **no timestamp**, so a
captured request can be replayed at any time; the dedupe key below makes a replay a duplicate, not a new event.

A request is a JSON:API document: `meta` (`event_name`, `test_mode`, `custom_data` from the checkout, `webhook_id`)
and `data` (the resource: a subscription, subscription invoice, order or license key). Lemon Squeezy sends no
event id, so the dedupe key is built from what one change of one resource has: `{event_name}/{data.type}/{data.id}
@{data.attributes.updated_at}`. A retry repeats the same body, hence the same key. Two real changes of one resource
with the same event name in the same `updated_at` (Lemon Squeezy's times have microseconds, usually `.000000`, so
in practice the same second) would be folded into one: the first is kept, the second answered as a duplicate.
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
from bridge.providers.lemonsqueezy.config import SECRET_VARIABLE
from bridge.providers.standard.payload import iso_time
from bridge.providers.values import identifier

NAME = "lemonsqueezy"
HEADER = "x-signature"
_HEX = re.compile(r"[0-9a-fA-F]{64}")


def sign(body: bytes, secret: str) -> str:
    """The `X-Signature` Lemon Squeezy computes: HMAC-SHA256 of the raw body keyed with the secret, in hex."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class LemonSqueezyProvider:
    """Verifies `X-Signature`; parses webhook requests into events."""

    name = NAME

    def __init__(self, secret: str):
        self._secret = secret

    def verify(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        """Raise SignatureError unless the body's HMAC matches (no timestamp is signed: `now` is unused)."""
        offered = headers.get(HEADER, "").strip()
        if not offered:
            raise SignatureError("missing X-Signature header")
        if not _HEX.fullmatch(offered):
            raise SignatureError("X-Signature header is not a hex HMAC-SHA256")
        expected = sign(body, self._secret)
        if not hmac.compare_digest(expected, offered.lower()):
            raise SignatureError(f"X-Signature does not match {SECRET_VARIABLE}")

    def parse(self, body: bytes, headers: Mapping[str, str] | None = None) -> Event:
        """The event of a verified body (`headers` are not needed)."""
        return storable(event(load_object(body)))

    def receive(self, body: bytes, headers: Mapping[str, str], now: float) -> Event:
        """Verify, then parse: the one call the web layer needs."""
        self.verify(body, headers, now)
        return self.parse(body, headers)


def event(payload: Mapping[str, Any]) -> Event:
    """A webhook request as an `Event`; PayloadError when `meta` or `data` lacks what the key is made of."""
    meta, data = payload.get("meta"), payload.get("data")
    if not isinstance(meta, dict) or not isinstance(meta.get("event_name"), str) or not meta["event_name"]:
        raise PayloadError("body is not a Lemon Squeezy webhook: no meta.event_name")
    if not isinstance(data, dict) or not isinstance(data.get("type"), str) or not data["type"]:
        raise PayloadError("body is not a Lemon Squeezy webhook: no data.type")
    resource_id = identifier(data.get("id"))
    if resource_id is None:
        raise PayloadError("body is not a Lemon Squeezy webhook: no data.id")
    attributes = data.get("attributes")
    updated_at = attributes.get("updated_at") if isinstance(attributes, dict) else None
    created = iso_time(updated_at)
    if created is None:
        raise PayloadError("body is not a Lemon Squeezy webhook: data.attributes.updated_at is not an ISO 8601 time")
    test_mode = meta.get("test_mode")
    return Event(
        provider=NAME,
        id=f"{meta['event_name']}/{data['type']}/{resource_id}@{updated_at}",
        type=meta["event_name"],
        created=created,
        livemode=(not test_mode) if isinstance(test_mode, bool) else None,
        api_version=None,
        connect_account=None,
        customer_id=identifier(attributes.get("customer_id")) if isinstance(attributes, dict) else None,
        payload=payload,
    )
