"""Braintree: form-posted, HMAC-SHA1-signed XML notifications at `/webhooks/braintree`, and its subscriptions.

The module-level names are the `bridge.providers.base.Package` protocol. The webhook object also answers
Braintree's destination check: `webhook(config).challenge(value)` is the text/plain reply to
`GET /webhooks/braintree?bt_challenge=<value>`. There is no list API client (`source` is None): Braintree's
search API speaks XML and is left out; docs/providers/braintree.md says what that costs.

The protocol's functions `webhook` and `facts` shadow the submodules of the same names as attributes of this
package: import from those modules with `from bridge.providers.braintree.facts import …`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.billing.model import Facts, Subscription
from bridge.providers import Event
from bridge.providers.base import SubscriptionSource
from bridge.providers.braintree import config as _config
from bridge.providers.braintree import facts as _facts
from bridge.providers.braintree.config import BraintreeConfig
from bridge.providers.braintree.webhook import BraintreeProvider

NAME = "braintree"
VARIABLES = _config.VARIABLES


def configure(env: Mapping[str, str]) -> BraintreeConfig | None:
    """The key pair from `env`; None when neither key is set (the endpoint answers 404)."""
    return _config.configure(env)


def webhook(config: BraintreeConfig) -> BraintreeProvider:
    """The verifier, challenge answerer and parser of `/webhooks/braintree`."""
    return BraintreeProvider(config.public_key, config.private_key)


def read(body: bytes, headers: Mapping[str, str] | None = None) -> Event:
    """A notification an admin chose, as its webhook posts it (the form with `bt_payload`), parsed without a
    signature check."""
    return BraintreeProvider("", "").parse(body)  # no key pair: parsing never reads one


def facts(event: Event, enrichment: Mapping[str, Any]) -> Facts:
    """What a verified notification says in the billing model's terms (pure)."""
    return _facts.facts(event, enrichment)


def subscription(raw: Mapping[str, Any]) -> Subscription | None:
    """A Braintree subscription, decoded from its XML, in the model's terms; None when it is not one."""
    return _facts.subscription(raw)


def source(config: BraintreeConfig) -> SubscriptionSource | None:
    """None: no list API client (Braintree's search API is XML); `bridge sync braintree` has nothing to read."""
    return None


__all__ = ["NAME", "VARIABLES", "configure", "facts", "read", "source", "subscription", "webhook"]
