"""The provider interface: verify a raw request, parse it into a normalised `Event`.

Provider modules know nothing of Flask, the store or Pendo; the web layer hands them the raw body and the
headers, and an injectable clock so the timestamp tolerance can be tested.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

Clock = Callable[[], float]


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
