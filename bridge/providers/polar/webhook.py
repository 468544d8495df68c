"""Polar: Standard Webhooks signatures keyed with the raw secret, and event parsing.

Polar signs with the Standard Webhooks library after base64-encoding the endpoint secret (server
`polar/webhook/tasks.py`; SDK `polar_sdk.webhooks.validate_event` does the same to verify), so the HMAC key is the
secret's own UTF-8 bytes, `whsec_` included. A generic Standard Webhooks verifier fed Polar's secret strips the
prefix and base64-decodes the rest, and fails. Everything else is the standard scheme: `StandardVerifier`.

Every event type is accepted and stored (Polar adds types over time; the SDK's parser refuses unknown ones after a
valid signature, which would make Polar retry and finally disable the endpoint). The dedupe id is the
`webhook-id` header, so `parse` takes the headers too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.errors import PayloadError
from bridge.providers import Event, storable
from bridge.providers.bodies import load_object
from bridge.providers.polar.config import SECRET_VARIABLE
from bridge.providers.standard.webhook import TOLERANCE, StandardVerifier, event_time, message_id


class PolarProvider:
    """Verifies Polar's signature against any configured secret; parses every event type."""

    name = "polar"
    needs_headers = True  # parse reads the dedupe id from the webhook-id header

    def __init__(self, keys: tuple[bytes, ...], tolerance: int = TOLERANCE):
        self._verifier = StandardVerifier(keys, SECRET_VARIABLE, tolerance)

    def verify(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        self._verifier.verify(body, headers, now)

    def parse(self, body: bytes, headers: Mapping[str, str] | None = None) -> Event:
        """The event of a verified body; `headers` are required (they carry the id)."""
        msg_id, headers = message_id(headers)
        payload = load_object(body)
        if not isinstance(payload.get("type"), str):
            raise PayloadError("body is not a Polar event: no type")
        if not isinstance(payload.get("data"), dict):
            raise PayloadError("body is not a Polar event: no data object")
        return storable(Event(
            provider=self.name,
            id=msg_id,
            type=payload["type"],
            created=event_time(payload, headers),
            livemode=None,  # sandbox is another service with its own endpoints and secrets
            api_version=None,
            connect_account=None,
            customer_id=customer_of(payload["type"], payload["data"]),
            payload=payload,
        ))

    def receive(self, body: bytes, headers: Mapping[str, str], now: float) -> Event:
        """Verify, then parse: the one call the web layer needs."""
        self.verify(body, headers, now)
        return self.parse(body, headers)


def customer_of(event_type: str, data: Mapping[str, Any]) -> str | None:
    """The Polar customer id an event is about: the object itself on `customer.*` events, else its `customer_id`."""
    if event_type.startswith("customer.") and isinstance(data.get("id"), str):
        return data["id"] or None
    for value in (data.get("customer_id"), _get(data.get("customer"), "id")):
        if isinstance(value, str) and value:
            return value
    return None


def _get(value: object, key: str) -> object:
    return value.get(key) if isinstance(value, Mapping) else None
