"""Stripe: `Stripe-Signature` verification with the official library, and event parsing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import stripe

from bridge.errors import PayloadError, SignatureError
from bridge.providers import Event


class StripeProvider:
    """Verifies Stripe's signature over the raw body against any configured secret."""

    name = "stripe"

    def __init__(self, secrets: tuple[str, ...], tolerance: int = 300):
        self._secrets = secrets
        self._tolerance = tolerance

    def verify(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        header = headers.get("stripe-signature", "")
        if not header:
            raise SignatureError("missing Stripe-Signature header")
        self._check_time(_timestamp(header), now)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise PayloadError("body is not UTF-8") from None
        for secret in self._secrets:
            try:
                stripe.WebhookSignature.verify_header(text, header, secret, tolerance=None)
                return
            except stripe.SignatureVerificationError:
                continue
        raise SignatureError("no v1 signature matches a configured STRIPE_WEBHOOK_SECRET")

    def _check_time(self, timestamp: int, now: float) -> None:
        if timestamp < now - self._tolerance:
            raise SignatureError(f"signature timestamp is more than {self._tolerance} s old")
        if timestamp > now + self._tolerance:
            raise SignatureError(f"signature timestamp is more than {self._tolerance} s in the future")

    def parse(self, body: bytes) -> Event:
        try:
            payload = json.loads(body)
        except ValueError:
            raise PayloadError("body is not JSON") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("id"), str):
            raise PayloadError("body is not a Stripe event: no event id")
        if payload.get("object") == "v2.core.event" or _is_thin(payload):
            return _thin_event(payload)
        if payload.get("object") != "event" or not isinstance(payload.get("type"), str):
            raise PayloadError("body is not a Stripe event: object is not 'event'")
        data = payload.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
            raise PayloadError("body is not a Stripe event: no data.object")
        created = payload.get("created")
        if not isinstance(created, int | float) or isinstance(created, bool):
            raise PayloadError("body is not a Stripe event: created is not a unix time")
        return Event(
            provider=self.name,
            id=payload["id"],
            type=payload["type"],
            created=float(created),
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


def _timestamp(header: str) -> int:
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                return int(value)
            except ValueError:
                break
    raise SignatureError("Stripe-Signature header has no valid timestamp")


def _is_thin(payload: Mapping[str, Any]) -> bool:
    return isinstance(payload.get("created"), str) and "data" not in payload and "related_object" in payload


def _thin_event(payload: Mapping[str, Any]) -> Event:
    """A v2 'thin' event notification: stored, not mapped (it carries no object snapshot)."""
    try:
        created = datetime.fromisoformat(str(payload.get("created")).replace("Z", "+00:00")).timestamp()
    except ValueError:
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
