"""Each provider's enrichment, chosen by the event's provider."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bridge.providers import Event, registry
from bridge.worker.enrichment import Enrichers


class Recording:
    """An enricher that says what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, bool]] = []
        self.claims: list[tuple[int, str]] = []

    @contextmanager
    def claimed(self, row_id: int, worker: str) -> Iterator[None]:
        self.claims.append((row_id, worker))
        yield

    def remember(self, event: Event) -> None:
        self.asked.append((f"remember {event.id}", True))

    def enrich(self, event: Event, fetch: bool = True) -> dict[str, Any]:
        self.asked.append((event.id, fetch))
        return {"customer": {"id": "cus_1"}}


def event(provider: str, event_id: str) -> Event:
    return Event(provider, event_id, "thing.happened", 1.0, None, None, None, "cus_1", {})


def test_enrichers_ask_only_the_events_own_provider() -> None:
    recording = Recording()
    enrichers = Enrichers({"acme": recording})
    with enrichers.claimed(7, "worker-1"):
        enrichers.remember(event("acme", "a_1"))
        assert enrichers.enrich(event("acme", "a_1"), fetch=False) == {"customer": {"id": "cus_1"}}
        assert enrichers.enrich(event("other", "o_1")) == {}
        enrichers.remember(event("other", "o_1"))
    assert recording.asked == [("remember a_1", True), ("a_1", False)] and recording.claims == [(7, "worker-1")]


def test_registry_gives_an_api_version_standing_only_for_providers_that_have_versions() -> None:
    assert registry.version_standing("stripe", "2099-01-01.zeta") == registry.NEWER
    assert registry.version_standing("stripe", "2015-01-01") == registry.UNSUPPORTED
    assert registry.version_standing("nosuch", "v1") == registry.SUPPORTED


def test_enrichers_use_a_packages_one_look_up_only_when_it_may_fetch(monkeypatch: Any) -> None:
    import sys
    import types

    module = types.ModuleType("bridge.providers.acme")
    module.NAME = "acme"  # type: ignore[attr-defined]
    module.source = lambda config: f"api:{config}" if config else None  # type: ignore[attr-defined]
    module.enrichment = lambda api, event: {"event": {"id": event.id, "via": api}}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bridge.providers.acme", module)
    monkeypatch.setattr(registry, "PACKAGES", ("acme",))
    found = Enrichers(registry.enrichers(None, {"acme": "key"}, lambda: 0.0))
    with found.claimed(1, "w"):
        assert found.enrich(event("acme", "a_1")) == {"event": {"id": "a_1", "via": "api:key"}}
    assert found.enrich(event("acme", "a_1"), fetch=False) == {}
    assert registry.enrichers(None, {"acme": None}, lambda: 0.0) == {}  # from the cache only: nothing to ask
