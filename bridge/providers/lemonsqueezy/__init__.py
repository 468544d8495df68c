"""Lemon Squeezy: `X-Signature` webhooks at `/webhooks/lemonsqueezy`, its resources in the model, its API.

The module-level names are the `bridge.providers.base.Package` protocol. One more, `enrichment(api, event)`, is what
the worker calls before mapping when `LEMONSQUEEZY_API_KEY` is set (`source(config)` gives the `api`): a
subscription names its price but not its amount, so the price and the store (currency) are fetched
(docs/providers/lemonsqueezy.md). `config.wanted(event.livemode, config.mode)` says whether an event's mode is
mapped under `LEMONSQUEEZY_MODE`.

The protocol's functions `webhook` and `facts` shadow the submodules of the same names as attributes of this
package: import from those modules with `from bridge.providers.lemonsqueezy.facts import …`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.billing.model import Facts, Subscription
from bridge.providers import Event
from bridge.providers.lemonsqueezy import config as _config
from bridge.providers.lemonsqueezy import facts as _facts
from bridge.providers.lemonsqueezy.api import LemonSqueezyApi, enrichment
from bridge.providers.lemonsqueezy.config import LemonSqueezyConfig, configure
from bridge.providers.lemonsqueezy.webhook import LemonSqueezyProvider

NAME = "lemonsqueezy"
VARIABLES = _config.VARIABLES


def webhook(config: LemonSqueezyConfig) -> LemonSqueezyProvider:
    """The verifier and parser of `/webhooks/lemonsqueezy`."""
    return LemonSqueezyProvider(config.secret)


def read(body: bytes, headers: Mapping[str, str] | None = None) -> Event:
    """A webhook body an admin chose, parsed as its webhook would be, without a signature check."""
    return LemonSqueezyProvider("").parse(body)  # no secret: parsing never reads one


def facts(event: Event, enrichment: Mapping[str, Any]) -> Facts:
    """What a verified event says in the model's terms (pure)."""
    return _facts.facts(event, enrichment)


def subscription(raw: Mapping[str, Any]) -> Subscription | None:
    """A subscription resource (from a webhook or the API) in the model's terms; None when it is not one."""
    return _facts.subscription(raw)


def ignored(event: Event, config: LemonSqueezyConfig) -> str | None:
    """Why an event of the other mode than LEMONSQUEEZY_MODE is stored but not mapped; None when it is mapped."""
    if _config.wanted(event.livemode, config.mode):
        return None
    return f"{'test' if event.livemode is False else 'live'}-mode event; {_config.MODE_VARIABLE}={config.mode}"


def source(config: LemonSqueezyConfig) -> LemonSqueezyApi | None:
    """The read-only API client when LEMONSQUEEZY_API_KEY is set, else None."""
    return LemonSqueezyApi(config.api_key, config.api_base) if config.api_key else None


__all__ = ["NAME", "VARIABLES", "configure", "enrichment", "facts", "ignored", "read", "source", "subscription",
           "webhook"]
