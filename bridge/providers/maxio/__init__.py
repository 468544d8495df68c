"""Maxio Advanced Billing (formerly Chargify): signed form webhooks at `/webhooks/maxio`, and its read-only API.

The module-level names are the `bridge.providers.base.Package` protocol. One more, `enrichment(api, event)`, is what
the worker calls before mapping when `MAXIO_API_KEY` is set (`source(config)` gives the `api`): it fetches the
subscription's components and price points and the customer's metafields, which webhooks leave out.
The provider's `parse` needs the headers as well as the body (`needs_headers`): the dedupe id is the
`X-Chargify-Webhook-Id` header. docs/providers/maxio.md says how to set it up and what it cannot tell.

The protocol's functions `webhook` and `facts` shadow the submodules of the same names as attributes of this
package: import from those modules with `from bridge.providers.maxio.facts import …`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.billing.model import Facts, Subscription
from bridge.providers import Event
from bridge.providers.bodies import derived_id, lowered
from bridge.providers.maxio import config as _config
from bridge.providers.maxio import facts as _facts
from bridge.providers.maxio.api import MaxioApi, enrichment
from bridge.providers.maxio.config import MaxioConfig
from bridge.providers.maxio.form import read_form
from bridge.providers.maxio.webhook import WEBHOOK_ID, MaxioProvider

NAME = "maxio"
VARIABLES = _config.VARIABLES


def configure(env: Mapping[str, str]) -> MaxioConfig | None:
    """Its settings, or None when MAXIO_WEBHOOK_SECRET is unset (the endpoint answers 404)."""
    return _config.configure(env)


def webhook(config: MaxioConfig) -> MaxioProvider:
    """The verifier and parser of `/webhooks/maxio`."""
    return MaxioProvider(config.secrets)


def read(body: bytes, headers: Mapping[str, str] | None = None) -> Event:
    """A webhook an admin chose, as Maxio posts it (the form body), parsed without a signature check. Its id is
    the `X-Chargify-Webhook-Id` header, else the body's `id`, else one derived from the body (the same body, the
    same id); an event that carries no time is refused (its delivery time is unknown)."""
    found = lowered(headers)
    if not found.get(WEBHOOK_ID, "").strip() and not read_form(body).get("id"):
        found[WEBHOOK_ID] = derived_id(body)
    return MaxioProvider(()).parse(body, found)


def facts(event: Event, enrichment: Mapping[str, Any]) -> Facts:
    """What a verified webhook says in the billing model's terms (pure)."""
    return _facts.facts(event, enrichment)


def subscription(raw: Mapping[str, Any]) -> Subscription | None:
    """A Maxio subscription (from a payload or the API) in the model's terms; None when it is not one."""
    return _facts.subscription(raw)


def source(config: MaxioConfig) -> MaxioApi | None:
    """The read-only API client when MAXIO_SUBDOMAIN and MAXIO_API_KEY are set, else None."""
    if config.api_key is None or config.api_base is None:
        return None
    return MaxioApi(config.api_base, config.api_key)


__all__ = ["NAME", "VARIABLES", "configure", "enrichment", "facts", "read", "source", "subscription", "webhook"]
