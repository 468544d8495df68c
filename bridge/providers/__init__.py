"""The provider interface: verify a raw request, parse it into a normalised `Event`.

Provider modules know nothing of Flask, the store or Pendo; the web layer hands them the raw body and the
headers, and an injectable clock so the timestamp tolerance can be tested. Every provider's `parse` ends with
`storable`, so an event the store could not hold is refused as a bad payload before it reaches a shared commit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bridge.errors import PayloadError

Clock = Callable[[], float]

# What the events table holds (bridge/schema.py; tests/providers/test_storable.py checks them against it).
TEXT_LIMITS = {"id": 255, "type": 255, "api_version": 64, "connect_account": 255, "customer_id": 255}
LATEST_CREATED = 4_102_444_800.0  # 2100-01-01: an event time past it is not a time


@dataclass(frozen=True)
class Event:
    """A verified provider event, normalised, with its raw payload kept whole."""

    provider: str
    id: str
    type: str
    created: float  # the event's own time, unix seconds
    livemode: bool | None
    api_version: str | None
    connect_account: str | None
    customer_id: str | None
    payload: Mapping[str, Any]
    thin: bool = False


class Provider(Protocol):
    """What every billing provider module offers."""

    name: str

    def verify(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        """Raise `SignatureError` unless signed by a configured secret within tolerance (header names lower-case)."""

    def parse(self, body: bytes) -> Event:
        """Turn a verified body into an `Event`; raise `PayloadError` when it is not one."""

    # Optional, read by the web layer when present:
    # - `receive(body, headers, now) -> Event`: verify and parse in one, for a provider whose event needs the
    #   headers (a dedupe id in `webhook-id`); used instead of `verify` then `parse`.
    # - `challenge(value) -> str`: the text/plain answer to `GET /webhooks/<name>?<param>=<value>` (Braintree's
    #   `bt_challenge`); without it a GET answers 405.


def storable(event: Event) -> Event:
    """Return `event` if the store can hold its values; raise PayloadError (naming the field, never its value)."""
    for name, limit in TEXT_LIMITS.items():
        value = getattr(event, name)
        if value is None:
            continue
        if not value or len(value) > limit:
            raise PayloadError(f"event {name} must have 1 to {limit} characters")
        if not value.isprintable():
            raise PayloadError(f"event {name} has a control character or an unpaired surrogate")
    if not (math.isfinite(event.created) and 0 <= event.created <= LATEST_CREATED):
        raise PayloadError("event created time is not a unix time between 1970 and 2100")
    return event
