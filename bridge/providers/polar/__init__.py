"""Polar (polar.sh): Standard Webhooks keyed with the raw secret, at `/webhooks/polar`, and its subscription list.

The package follows `bridge.providers.base.Package`. Its provider's `parse` needs the headers as well as the body
(`parse(body, headers)`; `needs_headers` is True), because the dedupe id is the `webhook-id` header.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.billing.model import Facts, Subscription
from bridge.providers import Event
from bridge.providers.base import SubscriptionSource
from bridge.providers.polar import facts as _facts
from bridge.providers.polar.api import PolarApi
from bridge.providers.polar.config import (
    API_BASE_VARIABLE,
    API_KEY_VARIABLE,
    RATE_VARIABLE,
    SECRET_VARIABLE,
    PolarConfig,
)
from bridge.providers.polar.config import configure as _configure
from bridge.providers.polar.webhook import PolarProvider

NAME = "polar"
VARIABLES = (SECRET_VARIABLE, API_KEY_VARIABLE, API_BASE_VARIABLE, RATE_VARIABLE)


def configure(env: Mapping[str, str]) -> PolarConfig | None:
    """Its settings, or None when `POLAR_WEBHOOK_SECRET` is unset."""
    return _configure(env)


def webhook(config: PolarConfig) -> PolarProvider:
    """The verifier and parser of `/webhooks/polar`."""
    return PolarProvider(config.keys)


def read(body: bytes, headers: Mapping[str, str] | None = None) -> Event:
    """An event body an admin chose, parsed as its webhook would be, without a signature check; without a
    `webhook-id` header its id is derived from the body (`StandardProvider.read`)."""
    return PolarProvider(()).read(body, headers)


def facts(event: Event, enrichment: Mapping[str, Any]) -> Facts:
    """What the event says in the billing model's terms."""
    return _facts.facts(event, enrichment)


def subscription(raw: Mapping[str, Any]) -> Subscription | None:
    """A Polar subscription object in the model's terms."""
    return _facts.subscription(raw)


def source(config: PolarConfig) -> SubscriptionSource | None:
    """The subscription list when `POLAR_API_KEY` is set."""
    if not config.api_key:
        return None
    return PolarApi(config.api_key, config.api_base, requests_per_second=config.requests_per_second)
