"""Each provider's enrichment, chosen by the event's provider: what rules need beyond the event itself.

A package offers it through the optional `enricher(store, config=None, clock=time.time)` of
`bridge.providers.registry`; without a config (or its API key) an enricher reads only the cache. Events of a
provider that has no enricher are enriched with nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any, Protocol

from bridge.providers import Event, registry
from bridge.store.store import Store


class Enricher(Protocol):
    """What a provider's enricher offers the worker."""

    def claimed(self, row_id: int, worker: str) -> AbstractContextManager[None]:
        """Cache look-ups only while `worker` holds event row `row_id`."""

    def remember(self, event: Event) -> None:
        """Refresh the cache from an event that carries a whole object."""

    def enrich(self, event: Event, fetch: bool = True) -> dict[str, Any]:
        """The enrichment of `event`; `fetch=False` reads only the cache."""


class Enrichers:
    """Every provider's enricher, by provider name."""

    def __init__(self, by_provider: Mapping[str, Enricher], cached_store: Store | None = None):
        self.by_provider = dict(by_provider)
        self._cached_store = cached_store  # given: a named source's key gets a cache-only enricher when first seen

    def _of(self, provider_key: str) -> Enricher | None:
        each = self.by_provider.get(provider_key)
        if each is None and self._cached_store is not None and registry.find(provider_key) is not None:
            made = registry.enrichers(self._cached_store, {provider_key: None}, time.time)
            each = self.by_provider[provider_key] = made.get(provider_key)  # type: ignore[assignment]
        return each

    @contextmanager
    def claimed(self, row_id: int, worker: str) -> Iterator[None]:
        with ExitStack() as stack:
            for each in self.by_provider.values():
                stack.enter_context(each.claimed(row_id, worker))
            yield

    def remember(self, event: Event) -> None:
        if (each := self._of(event.provider)) is not None:
            each.remember(event)

    def enrich(self, event: Event, fetch: bool = True) -> dict[str, Any]:
        each = self._of(event.provider)
        return each.enrich(event, fetch) if each is not None else {}


def online(store: Store, configs: Mapping[str, Any], clock: Callable[[], float] = time.time) -> Enrichers:
    """The configured providers' enrichers, asking their APIs when their configuration allows."""
    return Enrichers(registry.enrichers(store, configs, clock))


def cached(store: Store) -> Enrichers:
    """Every registered provider's enricher reading only the cache (replays, `bridge try`, the admin console)."""
    return Enrichers(registry.enrichers(store, dict.fromkeys(registry.PACKAGES), time.time), store)
