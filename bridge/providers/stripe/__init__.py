"""Stripe: signature verification and parsing, API-version adapters, billing semantics, its API client.

The module-level names below are the `Package` protocol (bridge/providers/base.py) the core finds through
`bridge.providers.registry`; the heavy modules (the official client among them) are imported only when used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import cache
from typing import TYPE_CHECKING

from bridge.providers.stripe.config import API_KEY_VARIABLE, VARIABLES, StripeConfig, configure
from bridge.providers.stripe.demo import demo_config, demo_deliveries

# Imported before the functions below are defined: a submodule loaded later would rebind the package's
# attribute of the same name (`webhook`) to itself. Submodules are never named after the other protocol names.
from bridge.providers.stripe.facts import facts, subscription
from bridge.providers.stripe.webhook import StripeProvider

if TYPE_CHECKING:
    from bridge.providers import Event
    from bridge.providers.base import SubscriptionSource
    from bridge.providers.stripe.catchup import StripeEventLog
    from bridge.providers.stripe.enrichment import Enricher, RateBudget
    from bridge.store.store import Store

NAME = "stripe"
TELLS_CHANGES = True  # updates carry `previous_attributes`: a plan change is told from them alone
LOGGERS = ("stripe",)  # the official client's logger: warnings only

__all__ = ["API_KEY_VARIABLE", "NAME", "TELLS_CHANGES", "VARIABLES", "StripeConfig", "StripeProvider", "configure",
           "demo_config", "demo_deliveries", "enricher", "event_log", "facts", "ignored", "read", "source",
           "subscription", "version_standing", "webhook"]


def webhook(config: StripeConfig) -> StripeProvider:
    """The verifier and parser for /webhooks/stripe."""
    return StripeProvider(config.webhook_secrets, config.tolerance_seconds)


def read(body: bytes, headers: Mapping[str, str] | None = None) -> Event:
    """An event body an admin chose, parsed as its webhook would be, without a signature check."""
    return StripeProvider(()).parse(body)  # no secret: parsing never reads one


def ignored(event: Event, config: StripeConfig) -> str | None:
    """Why a verified event is stored but not mapped: a live event on a test deployment, or the reverse."""
    if event.livemode is None or config.mode == "both" or event.livemode == (config.mode == "live"):
        return None
    return f"{'live' if event.livemode else 'test'} mode event; STRIPE_MODE={config.mode}"


def source(config: StripeConfig) -> SubscriptionSource | None:
    """Stripe's list API for `bridge sync stripe`, when STRIPE_API_KEY is set."""
    if not config.api_key:
        return None
    from bridge.providers.stripe.api import StripeApi, client_for
    from bridge.providers.stripe.listing import StripeSource

    return StripeSource(StripeApi(client_for(config.api_key, config.api_base), budget(config)))


def event_log(config: StripeConfig) -> StripeEventLog | None:
    """Stripe's Events API for `bridge catchup stripe` (30 days), when STRIPE_API_KEY is set."""
    if not config.api_key:
        return None
    from bridge.providers.stripe.api import StripeApi, client_for
    from bridge.providers.stripe.catchup import StripeEventLog

    return StripeEventLog(StripeApi(client_for(config.api_key, config.api_base), budget(config)))


def enricher(store: Store, config: StripeConfig | None = None, clock: Callable[[], float] = time.time) -> Enricher:
    """The customer, charge and price look-ups of its events; from the cache only without a config's API key."""
    from bridge.providers.stripe.enrichment import Enricher, RateBudget, stripe_client

    if config is None or not config.api_key:
        return Enricher(store, None, RateBudget(1.0), clock)
    return Enricher(store, stripe_client(config.api_key, config.api_base), budget(config), clock)


@cache
def budget(config: StripeConfig) -> RateBudget:
    """The one STRIPE_REQUESTS_PER_SECOND budget of a process: enrichment and the sync share it."""
    from bridge.providers.stripe.enrichment import RateBudget

    return RateBudget(config.requests_per_second)


def version_standing(api_version: str | None) -> str:
    """Where bridge stands with an event's API version: supported, newer or unsupported."""
    from bridge.providers.stripe.versions import standing

    return standing(api_version)

