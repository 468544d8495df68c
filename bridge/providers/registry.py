"""The one place the core finds provider packages: `PACKAGES` names them, everything else is looked up here.

A package is a module `bridge.providers.<name>` meeting `bridge.providers.base.Package`. Optional module-level
names are read when present (docs/providers/README.md):
- `ignored(event, config) -> str | None`: why a verified event is stored but not mapped (a test-mode event on a
  live deployment);
- `enricher(store, config=None, clock) -> Enricher`: its look-ups (`bridge.worker.enrichment`), from the cache only
  when `config` is None; or, simpler, `enrichment(api, event) -> dict`: one look-up through its list API client
  (`source(config)`), asked only when the worker may fetch; its errors say what happens to the event: an
  `EnrichmentUnavailable` is retried later, an `EventUnconfirmed` is held;
- `CONFIRMS_EVENTS`: true when its `enrichment` is the check that the provider vouches for the event (Chargebee
  signs nothing): an event it could not ask about is held after the retries, never mapped from the body alone;
- `version_standing(api_version) -> str`: SUPPORTED, NEWER or UNSUPPORTED (`bridge status`, `/metrics`);
- `API_KEY_VARIABLE`: the variable that turns its list API on, named in messages;
- `LOGGERS`: the loggers of its client libraries, quietened to warnings;
- `TELLS_CHANGES`: true when its updates say what changed (Stripe's `previous_attributes`): a plan change is then
  told only from them, never from the stored snapshot.
- `read(body, headers=None) -> Event`: an event body an admin chose, parsed as its webhook would be, without a
  signature check (`bridge try`, `bridge test`, the admin console's dry run); a form body for the providers that
  post forms; where the dedupe id is a header, a missing header gives an id derived from the body.
This is the only module outside `bridge/providers/<name>/` that names a provider.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any, cast

from bridge.errors import ConfigError, EventUnconfirmed
from bridge.providers import Event, Provider
from bridge.providers.base import Package, SubscriptionSource

PACKAGES = ("stripe", "paddle", "chargebee", "polar", "standard", "recurly", "lemonsqueezy", "braintree", "maxio")
SUPPORTED, NEWER, UNSUPPORTED = "supported", "newer", "unsupported"  # where bridge stands with an API version


def package(name: str) -> Package:
    """The package called `name`; ConfigError when no such provider is registered."""
    if name not in PACKAGES:
        raise ConfigError(f"no provider {name!r}: the providers are {', '.join(PACKAGES)}")
    module: ModuleType = importlib.import_module(f"bridge.providers.{name}")
    return cast(Package, module)


def find(name: str) -> Package | None:
    """The package called `name`, or None when no such provider is registered (an event stored by another
    deployment's providers, say)."""
    return package(name) if name in PACKAGES else None


def packages() -> tuple[Package, ...]:
    """Every registered package, in `PACKAGES` order."""
    return tuple(package(name) for name in PACKAGES)


def configure(env: Mapping[str, str]) -> dict[str, Any]:
    """Each configured package's configuration by name; a package whose secret is unset is left out."""
    found = {}
    for each in packages():
        config = each.configure(env)
        if config is not None:
            found[each.NAME] = config
    return found


def variables() -> str:
    """Every package's variables, for a message telling the operator what can be set."""
    return "; ".join(f"{each.NAME}: {', '.join(each.VARIABLES)}" for each in packages())


def webhooks(configs: Mapping[str, Any]) -> dict[str, Provider]:
    """The verifier and parser of every configured provider, by name (its endpoint is /webhooks/<name>)."""
    return {name: package(name).webhook(config) for name, config in configs.items()}


def ignored(event: Event, config: Any) -> str | None:
    """The provider's reason to store a verified event without mapping it, if it has one."""
    reason = getattr(package(event.provider), "ignored", None)
    return reason(event, config) if reason is not None else None


def source(name: str, config: Any) -> SubscriptionSource | None:
    """The provider's list API, when it is configured with what it needs."""
    return package(name).source(config)


def api_key_variable(name: str) -> str:
    """The variable that turns the provider's list API on, for messages: its `API_KEY_VARIABLE`, else its
    variables ending in `_API_KEY`, else all of them."""
    each = package(name)
    named = getattr(each, "API_KEY_VARIABLE", None)
    keys = [named] if isinstance(named, str) else [v for v in each.VARIABLES if v.endswith("_API_KEY")]
    return " / ".join(keys or each.VARIABLES)


def enrichers(store: Any, configs: Mapping[str, Any], clock: Callable[[], float]) -> dict[str, Any]:
    """The enricher of each provider in `configs` that has one (a None config: from the cache only)."""
    found: dict[str, Any] = {}
    for name, config in configs.items():
        each = package(name)
        make, fetch = getattr(each, "enricher", None), getattr(each, "enrichment", None)
        if make is not None:
            found[name] = make(store, config, clock)
        elif callable(fetch) and config is not None and (api := each.source(config)) is not None:
            found[name] = _Fetching(fetch, api, bool(getattr(each, "CONFIRMS_EVENTS", False)))
    return found


class _Fetching:
    """An enricher made of a package's `enrichment(api, event)`: it asks the API when fetching is allowed; a
    package that confirms events through it gets EventUnconfirmed instead of an empty enrichment otherwise."""

    def __init__(self, fetch: Callable[[Any, Event], dict[str, Any]], api: Any, confirms: bool = False):
        self._fetch, self._api, self._confirms = fetch, api, confirms

    @contextmanager
    def claimed(self, row_id: int, worker: str) -> Iterator[None]:
        yield  # nothing is cached

    def remember(self, event: Event) -> None:
        return None

    def enrich(self, event: Event, fetch: bool = True) -> dict[str, Any]:
        if fetch:
            return dict(self._fetch(self._api, event))
        if self._confirms:
            raise EventUnconfirmed(f"{event.provider} could not be asked to confirm event {event.id}")
        return {}


def version_standing(name: str, api_version: str | None) -> str:
    """Where bridge stands with the provider's API version; SUPPORTED when the provider has no versions."""
    standing = getattr(package(name), "version_standing", None) if name in PACKAGES else None
    return str(standing(api_version)) if standing is not None else SUPPORTED


def loggers() -> tuple[str, ...]:
    """The loggers of every package's client libraries."""
    return tuple(logger for each in packages() for logger in getattr(each, "LOGGERS", ()))


def read(body: bytes, name: str | None = None, headers: Mapping[str, str] | None = None) -> Event:
    """The package's `read` of a chosen body (the first registered package when `name` is None); ConfigError for an
    unregistered name or a package that cannot read one."""
    each = package(name or PACKAGES[0])
    reader = getattr(each, "read", None)
    if reader is None:
        raise ConfigError(f"provider {each.NAME!r} cannot read an event outside its webhook")
    event: Event = reader(body, headers)
    return event


def mapping_module(name: str) -> ModuleType | None:
    """The package's `mapping` module, when it has one (what the mapping engine may ask of it beyond the model);
    None for an unregistered name or a package without one."""
    if name not in PACKAGES:
        return None
    try:
        return importlib.import_module(f"bridge.providers.{name}.mapping")
    except ModuleNotFoundError as exc:
        if exc.name != f"bridge.providers.{name}.mapping":
            raise
        return None


def mapping_modules() -> tuple[ModuleType, ...]:
    """Every registered package's `mapping` module."""
    return tuple(module for name in PACKAGES if (module := mapping_module(name)) is not None)
