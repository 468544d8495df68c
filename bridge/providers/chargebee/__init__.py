"""Chargebee: Basic-authenticated webhooks, its events in the billing model's terms, its read-only API.

The module-level names are the `bridge.providers.base.Package` protocol. One more, `enrichment(api, event)`,
is what the core calls before mapping when `CHARGEBEE_API_KEY` is set (`source(config)` gives the `api`): it
fetches the event again from Chargebee, since Chargebee signs nothing (docs/providers/chargebee.md).

The protocol's functions `webhook` and `facts` shadow the submodules of the same names as attributes of this
package: import from those modules with `from bridge.providers.chargebee.facts import …`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bridge.billing.model import Facts, Subscription
from bridge.providers import Event, Provider
from bridge.providers.chargebee import config as _config
from bridge.providers.chargebee import facts as _facts
from bridge.providers.chargebee.api import ChargebeeApi, enrichment
from bridge.providers.chargebee.config import ChargebeeConfig, configure
from bridge.providers.chargebee.webhook import ChargebeeProvider

if TYPE_CHECKING:  # the event log imports the sync framework, which imports the mapping engine
    from bridge.providers.chargebee.catchup import ChargebeeEventLog

NAME = "chargebee"
VARIABLES = _config.VARIABLES
CONFIRMS_EVENTS = True  # `enrichment` is the trust check: an event it could not ask about is held, not mapped


def webhook(config: ChargebeeConfig) -> Provider:
    """The verifier and parser for /webhooks/chargebee."""
    return ChargebeeProvider(config.username, config.password)


def read(body: bytes, headers: Mapping[str, str] | None = None) -> Event:
    """An event body an admin chose, parsed as its webhook would be, without the credentials check."""
    return ChargebeeProvider("", "").parse(body)  # no credentials: parsing never reads them


def facts(event: Event, enrichment: Mapping[str, Any]) -> Facts:
    """What a verified event says in the model's terms (pure)."""
    return _facts.facts(event, enrichment)


def subscription(raw: Mapping[str, Any]) -> Subscription | None:
    """A raw Chargebee subscription (from an event or the API) in the model's terms."""
    return _facts.subscription(raw)


def source(config: ChargebeeConfig) -> ChargebeeApi | None:
    """The read-only API client (subscriptions, events) when CHARGEBEE_API_KEY is set, else None."""
    if config.api_key is None or config.api_base is None:
        return None
    return ChargebeeApi(config.api_base, config.api_key, requests_per_second=config.requests_per_second)


def event_log(config: ChargebeeConfig) -> ChargebeeEventLog | None:
    """Chargebee's list of events for `bridge catchup chargebee` when CHARGEBEE_API_KEY is set, else None."""
    from bridge.providers.chargebee.catchup import ChargebeeEventLog

    api = source(config)
    return ChargebeeEventLog(api) if api is not None else None


__all__ = ["CONFIRMS_EVENTS", "NAME", "VARIABLES", "configure", "enrichment", "event_log", "facts", "read", "source",
           "subscription", "webhook"]
