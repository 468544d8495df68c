"""Recurly: signed JSON webhooks at `/webhooks/recurly`, its objects in the billing model's terms, its API v3.

The module-level names are the `bridge.providers.base.Package` protocol. One more, `enrichment(api, event)`, is what
the worker calls before mapping when `RECURLY_API_KEY` is set (`source(config)` gives the `api`): JSON webhooks
carry ids only, so the subscription, its account and plan, or the transaction are fetched (docs/providers/recurly.md).

The protocol's functions `webhook` and `facts` shadow the submodules of the same names as attributes of this
package: import from those modules with `from bridge.providers.recurly.facts import …`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.billing.model import Facts, Subscription
from bridge.providers import Event
from bridge.providers.bodies import lowered
from bridge.providers.recurly import config as _config
from bridge.providers.recurly import facts as _facts
from bridge.providers.recurly.api import RecurlyApi, enrichment
from bridge.providers.recurly.config import RecurlyConfig, configure
from bridge.providers.recurly.webhook import RecurlyProvider

NAME = "recurly"
VARIABLES = _config.VARIABLES


def webhook(config: RecurlyConfig) -> RecurlyProvider:
    """The verifier and parser of `/webhooks/recurly`."""
    return RecurlyProvider(config.secrets)


def read(body: bytes, headers: Mapping[str, str] | None = None) -> Event:
    """A JSON webhook body an admin chose, parsed as its webhook would be, without a signature check."""
    return RecurlyProvider(()).parse(body, lowered(headers))  # no secret: parsing never reads one


def facts(event: Event, enrichment: Mapping[str, Any]) -> Facts:
    """What a verified event says in the model's terms (pure)."""
    return _facts.facts(event, enrichment)


def subscription(raw: Mapping[str, Any]) -> Subscription | None:
    """A Recurly subscription object (from the API) in the model's terms; None when it is not one."""
    return _facts.subscription(raw)


def source(config: RecurlyConfig) -> RecurlyApi | None:
    """The read-only API client when RECURLY_API_KEY is set, else None."""
    return RecurlyApi(config.api_key, config.api_base) if config.api_key else None


__all__ = ["NAME", "VARIABLES", "configure", "enrichment", "facts", "read", "source", "subscription", "webhook"]
