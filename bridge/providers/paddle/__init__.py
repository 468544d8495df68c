"""Paddle Billing: notification verification and parsing, its entities in the billing model, its list API.

The module-level names are the `Package` protocol of `bridge.providers.base`; docs/providers/paddle.md says
how to set it up and what it can and cannot tell.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bridge.billing.model import Facts, Subscription
from bridge.providers import Event, Provider
from bridge.providers.base import SubscriptionSource
from bridge.providers.paddle import config as _config
from bridge.providers.paddle import facts as _facts
from bridge.providers.paddle import subscription as _subscription
from bridge.providers.paddle.api import PaddleApi
from bridge.providers.paddle.config import PaddleConfig
from bridge.providers.paddle.webhook import PaddleProvider

if TYPE_CHECKING:  # the event log imports the sync framework, which imports the mapping engine
    from bridge.providers.paddle.catchup import PaddleEventLog

NAME = "paddle"
VARIABLES = (
    "PADDLE_WEBHOOK_SECRET",
    "PADDLE_SIGNATURE_TOLERANCE_SECONDS",
    "PADDLE_API_KEY",
    "PADDLE_API_BASE",
    "PADDLE_REQUESTS_PER_SECOND",
)


def configure(env: Mapping[str, str]) -> PaddleConfig | None:
    """The configuration from `env`; None when PADDLE_WEBHOOK_SECRET is unset (the endpoint answers 404)."""
    return _config.configure(env)


def webhook(config: PaddleConfig) -> Provider:
    """The verifier and parser of `/webhooks/paddle`."""
    return PaddleProvider(config.secrets, config.tolerance)


def read(body: bytes, headers: Mapping[str, str] | None = None) -> Event:
    """A notification body an admin chose, parsed as its webhook would be, without a signature check."""
    return PaddleProvider(()).parse(body)  # no secret: parsing never reads one


def facts(event: Event, enrichment: Mapping[str, Any]) -> Facts:
    """What a verified notification says in the billing model's terms."""
    return _facts.facts(event, enrichment)


def subscription(raw: Mapping[str, Any]) -> Subscription | None:
    """A subscription entity (stored, or from the API) in the model's terms; None when it is not one."""
    return _subscription.subscription(raw)


def source(config: PaddleConfig) -> SubscriptionSource | None:
    """The list-subscriptions client when PADDLE_API_KEY is set."""
    return _api(config)


def event_log(config: PaddleConfig) -> PaddleEventLog | None:
    """Paddle's list of events for `bridge catchup paddle` when PADDLE_API_KEY is set (it needs `event.read`)."""
    from bridge.providers.paddle.catchup import PaddleEventLog

    api = _api(config)
    return PaddleEventLog(api) if api is not None else None


def _api(config: PaddleConfig) -> PaddleApi | None:
    """The API client, paced at PADDLE_REQUESTS_PER_SECOND; None without PADDLE_API_KEY."""
    if not config.api_key:
        return None
    return PaddleApi(config.api_key, config.api_base, requests_per_second=config.requests_per_second)
