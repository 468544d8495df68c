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

    def __init__(self, by_provider: Mapping[str, Enricher], store: Store | None = None,
                 configs: Mapping[str, Any] | None = None, clock: Callable[[], float] = time.time):
        self.by_provider = dict(by_provider)
        # A key first seen here (a connected account's, or a named source's when reading the cache only) gets an
        # enricher of its own, caching under that key, with its platform's configuration when there is one.
        self._store, self._configs, self._clock = store, configs or {}, clock
        self._without: set[str] = set()  # keys whose package has no enricher
        self._stack: ExitStack | None = None  # the claim being held, which an enricher made meanwhile joins
        self._claim: tuple[int, str] | None = None

    def _of(self, provider_key: str) -> Enricher | None:
        if provider_key in self.by_provider or provider_key in self._without:
            return self.by_provider.get(provider_key)
        if self._store is None or registry.find(provider_key) is None:
            return None
        config = self._configs.get(registry.platform(provider_key))
        made = registry.enrichers(self._store, {provider_key: config}, self._clock).get(provider_key)
        if made is None:
            self._without.add(provider_key)
            return None
        self.by_provider[provider_key] = made
        if self._stack is not None and self._claim is not None:
            self._stack.enter_context(made.claimed(*self._claim))
        return made

    @contextmanager
    def claimed(self, row_id: int, worker: str) -> Iterator[None]:
        with ExitStack() as stack:
            for each in self.by_provider.values():
                stack.enter_context(each.claimed(row_id, worker))
            self._stack, self._claim = stack, (row_id, worker)
            try:
                yield
            finally:
                self._stack, self._claim = None, None

    def remember(self, event: Event) -> None:
        if (each := self._of(event.provider)) is not None:
            each.remember(event)

    def enrich(self, event: Event, fetch: bool = True) -> dict[str, Any]:
        each = self._of(event.provider)
        return each.enrich(event, fetch) if each is not None else {}


def online(store: Store, configs: Mapping[str, Any], clock: Callable[[], float] = time.time) -> Enrichers:
    """The configured providers' enrichers, asking their APIs when their configuration allows."""
    return Enrichers(registry.enrichers(store, configs, clock), store, configs, clock)


def cached(store: Store) -> Enrichers:
    """Every registered provider's enricher reading only the cache (replays, `bridge try`, the admin console)."""
    return Enrichers(registry.enrichers(store, dict.fromkeys(registry.PACKAGES), time.time), store)
