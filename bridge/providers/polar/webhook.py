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
from bridge.providers.polar.config import SECRET_VARIABLE
from bridge.providers.standard.webhook import StandardProvider


class PolarProvider(StandardProvider):
    """Verifies Polar's signature against any configured secret; parses every event type.

    The body's `livemode` is not set: the sandbox is another service with its own endpoints and secrets."""

    name = "polar"
    kind = "Polar event"
    secret_variable = SECRET_VARIABLE

    def customer_of_payload(self, payload: Mapping[str, Any]) -> str | None:
        """The customer of `data`; PayloadError when the body has no `data` object."""
        if not isinstance(payload.get("data"), dict):
            raise PayloadError("body is not a Polar event: no data object")
        return customer_of(payload["type"], payload["data"])


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
