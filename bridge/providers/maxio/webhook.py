"""Maxio Advanced Billing (formerly Chargify): webhook signature verification and parsing.

Maxio posts a form body and signs it: `X-Chargify-Webhook-Signature-Hmac-Sha-256` is the HMAC-SHA256, in hex,
of the raw body keyed with the site's Shared Key (docs.maxio.com, Webhooks Reference, "Webhook Signature"). The
older `X-Chargify-Webhook-Signature` (MD5 of key and body) is not accepted. Nothing signed carries a time, so
there is no tolerance; a replay is caught by the dedupe id.

The dedupe id is the `X-Chargify-Webhook-Id` header, the webhook's id, the same on every retry and replay, which
the body repeats as `id`; `parse(body, headers)` reads the header and falls back on the body's `id`, and refuses a
delivery whose two ids disagree. The event type is the body's `event`. The event time is the body's `created_at`
when present, else the time of what the event is about (the transaction's `created_at`, the subscription's
`updated_at`, …); an event that carries no time at all (Maxio's `test`) takes the time it was received.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from bridge.errors import PayloadError, SignatureError
from bridge.providers import Event, storable
from bridge.providers.maxio.form import read_form
from bridge.providers.maxio.values import instant, text
from bridge.providers.values import mapping

NAME = "maxio"
SIGNATURE = "x-chargify-webhook-signature-hmac-sha-256"
WEBHOOK_ID = "x-chargify-webhook-id"
MAX_SIGNATURE = 200  # characters of a signature header worth comparing; a SHA-256 hex has 64
# Where an event's own time is, in order: the webhook's, then the object the event is about.
TIMES = (("created_at",), ("payload", "timestamp"), ("payload", "transaction", "created_at"),
         ("payload", "refund", "created_at"), ("payload", "subscription", "updated_at"),
         ("payload", "statement", "closed_at"), ("payload", "invoice", "updated_at"))


def sign(body: bytes, secret: str) -> str:
    """The signature Maxio sends: HMAC-SHA256 of the raw body keyed with the Shared Key, lower-case hex."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class MaxioProvider:
    """Verifies the HMAC-SHA256 signature against any configured Shared Key; parses every event."""

    name = NAME
    needs_headers = True  # parse reads the dedupe id from X-Chargify-Webhook-Id

    def __init__(self, secrets: tuple[str, ...]):
        self._secrets = secrets

    def verify(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        """SignatureError unless a Shared Key signs the raw body (no timestamp: `now` is unused)."""
        offered = headers.get(SIGNATURE, "").strip().lower()
        if not offered:
            raise SignatureError("missing X-Chargify-Webhook-Signature-Hmac-Sha-256 header")
        if len(offered) > MAX_SIGNATURE:
            raise SignatureError("X-Chargify-Webhook-Signature-Hmac-Sha-256 header is too long")
        encoded = offered.encode("utf-8", "replace")
        if not any([hmac.compare_digest(sign(body, secret).encode(), encoded) for secret in self._secrets]):
            raise SignatureError("signature does not match MAXIO_WEBHOOK_SECRET (the site's Shared Key)")

    def parse(self, body: bytes, headers: Mapping[str, str] | None = None, received: float | None = None) -> Event:
        """The event of a verified body; `received` is its time when the event carries none."""
        form = read_form(body)
        event_type = form.get("event")
        if not isinstance(event_type, str) or not event_type:
            raise PayloadError("body is not a Maxio webhook: no event")
        payload = form.get("payload", {})
        if not isinstance(payload, dict):
            raise PayloadError("body is not a Maxio webhook: payload is not a set of fields")
        return storable(Event(
            provider=NAME,
            id=webhook_id(form, headers or {}),
            type=event_type,
            created=event_time(form, received),
            livemode=None,  # a test site is another site, with its own Shared Key
            api_version=None,
            connect_account=None,
            customer_id=customer_of(payload),
            payload=form,
        ))

    def receive(self, body: bytes, headers: Mapping[str, str], now: float) -> Event:
        """Verify, then parse: the one call the web layer needs."""
        self.verify(body, headers, now)
        return self.parse(body, headers, received=now)


def webhook_id(form: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """The `X-Chargify-Webhook-Id` header, else the body's `id`; PayloadError when both are absent or differ."""
    header = headers.get(WEBHOOK_ID, "").strip()
    body = form.get("id") if isinstance(form.get("id"), str) else ""
    if header and body and header != body:
        raise PayloadError("X-Chargify-Webhook-Id and the body's id differ")
    found = header or body
    if not found:
        raise PayloadError("body is not a Maxio webhook: no X-Chargify-Webhook-Id header and no id")
    return found


def event_time(form: Mapping[str, Any], received: float | None) -> float:
    """The first time found along TIMES; `received` when there is none; PayloadError when neither."""
    for keys in TIMES:
        value: Any = form
        for key in keys:
            value = mapping(value).get(key)
        found = instant(value)
        if found is not None:
            return found
    if received is None:
        raise PayloadError("body is not a Maxio webhook: it carries no time")
    return received


def customer_of(payload: Mapping[str, Any]) -> str | None:
    """The Maxio customer id: the payload's customer, the subscription's, else the one a transaction names."""
    subscription = mapping(payload.get("subscription"))
    for value in (mapping(payload.get("customer")).get("id"), mapping(subscription.get("customer")).get("id"),
                  mapping(payload.get("transaction")).get("customer_id"), payload.get("customer_id")):
        if text(value):
            return text(value)
    return None
