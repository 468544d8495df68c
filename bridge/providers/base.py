"""What a provider package offers the core: the `Package` protocol every `bridge/providers/<name>/` implements.

The core finds packages through `bridge.providers.registry` and never imports one by name. A package's
`__init__.py` exposes the module-level names below; everything else in the package is its own business.
Configuration is read in one place (`bridge.settings`), which hands each package the environment to read its
own variables from; a package never reads `os.environ` itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from bridge.billing.model import Facts, Subscription
from bridge.providers import Event, Provider


class SubscriptionSource(Protocol):
    """A provider's list API, for `bridge sync <provider>`: every subscription, page by page."""

    def subscriptions(self, cursor: str | None = None) -> Iterator[tuple[list[Mapping[str, Any]], str | None]]:
        """Yield (page of raw subscription objects, cursor to resume after that page; None after the last)."""


class Package(Protocol):
    """The module-level interface of a provider package."""

    NAME: str  # the endpoint is /webhooks/<NAME>
    VARIABLES: tuple[str, ...]  # every environment variable the package reads, documented in its docs page

    def configure(self, env: Mapping[str, str]) -> Any | None:
        """Its configuration from `env`, or None when its webhook secret is unset (its endpoint answers 404).

        Raises ConfigError naming the variable when a value is set but unusable."""

    def webhook(self, config: Any) -> Provider:
        """The verifier and parser for its endpoint."""

    def facts(self, event: Event, enrichment: Mapping[str, Any]) -> Facts:
        """What a verified event says in the billing model's terms (pure; `enrichment` may be empty)."""

    def subscription(self, raw: Mapping[str, Any]) -> Subscription | None:
        """A raw subscription object (stored, or from its API) in the model's terms; None when it is not one."""

    def source(self, config: Any) -> SubscriptionSource | None:
        """Its list API when an API key is configured, else None."""
