"""Standard Webhooks (www.standardwebhooks.com): any sender that signs the standard way, at `/webhooks/standard`.

The package follows `bridge.providers.base.Package`. Its provider's `parse` needs the headers as well as the body
(`parse(body, headers)`; `needs_headers` is True), because the dedupe id is the `webhook-id` header.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.billing.model import Facts, Subscription
from bridge.providers import Event
from bridge.providers.base import SubscriptionSource
from bridge.providers.standard import facts as _facts
from bridge.providers.standard.config import SECRET_VARIABLE, StandardConfig
from bridge.providers.standard.config import configure as _configure
from bridge.providers.standard.webhook import StandardProvider

NAME = "standard"
VARIABLES = (SECRET_VARIABLE,)


def configure(env: Mapping[str, str]) -> StandardConfig | None:
    """Its settings, or None when `STANDARD_WEBHOOK_SECRET` is unset."""
    return _configure(env)


def webhook(config: StandardConfig) -> StandardProvider:
    """The verifier and parser of `/webhooks/standard`."""
    return StandardProvider(config.keys)


def read(body: bytes, headers: Mapping[str, str] | None = None) -> Event:
    """An event body an admin chose, parsed as its webhook would be, without a signature check; without a
    `webhook-id` header its id is derived from the body (`StandardProvider.read`)."""
    return StandardProvider(()).read(body, headers)


def facts(event: Event, enrichment: Mapping[str, Any]) -> Facts:
    """Identity only (see `facts.facts`)."""
    return _facts.facts(event, enrichment)


def subscription(raw: Mapping[str, Any]) -> Subscription | None:
    """Always None: no subscription semantics."""
    return _facts.subscription(raw)


def source(config: StandardConfig) -> SubscriptionSource | None:
    """None: a generic sender has no list API."""
    return None
