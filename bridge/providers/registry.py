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

A provider may run several accounts, each a named source (docs/providers/README.md): what the core keys events,
links, subscriptions and cached objects by is the provider's *key*, its name for the unsuffixed variables
(`stripe`) and `<name>/<source>` for a named source (`stripe/eu`); an event of a connected account (Stripe Connect:
`Event.connect_account`) is keyed under that account too, `<name>[/<source>]:<account>`, so a platform's customers
never mix. Every look-up here takes any of them.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any, cast

from bridge.errors import ConfigError, EventUnconfirmed, PayloadError
from bridge.providers import Event, Provider
from bridge.providers.base import Package, SubscriptionSource

PACKAGES = ("stripe", "paddle", "chargebee", "polar", "standard", "recurly", "lemonsqueezy", "braintree", "maxio")
SUPPORTED, NEWER, UNSUPPORTED = "supported", "newer", "unsupported"  # where bridge stands with an API version
DEFAULT_SOURCE = "default"  # the source of the unsuffixed variables, and of every row stored before sources
SOURCE_MAX = 16  # a source name's longest, so that its connected accounts' keys fit in KEY_MAX too
SOURCE_NAME = re.compile(rf"[a-z0-9][a-z0-9_-]{{0,{SOURCE_MAX - 1}}}")


def key(provider: str, source: str | None = None) -> str:
    """What the stores key a provider's rows by: its name for the default source, else `<name>/<source>`."""
    if not source or source == DEFAULT_SOURCE:
        return provider
    if not SOURCE_NAME.fullmatch(source):
        raise ConfigError(f"source {source!r} is not a source name: lower-case letters, digits, _ and -, "
                          f"at most {SOURCE_MAX} characters")
    return f"{provider}/{source}"


KEY_MAX = 64  # the stores' provider columns (migration 0008)


def split(provider_key: str) -> tuple[str, str]:
    """(provider name, source name) of a key: `stripe/eu` -> ("stripe", "eu"), `stripe` -> ("stripe", "default");
    a connected account's part is left out (`stripe/eu:acct_1` -> ("stripe", "eu"))."""
    name, _, source = platform(provider_key).partition("/")
    return name, source or DEFAULT_SOURCE


def platform(provider_key: str) -> str:
    """The configured account a key belongs to, without a connected account: `stripe/eu:acct_1` -> `stripe/eu`."""
    return provider_key.partition(":")[0]


def connected(provider_key: str) -> str | None:
    """The connected account of a key (`stripe:acct_1` -> `acct_1`), or None for a platform's own events."""
    return provider_key.partition(":")[2] or None


def event_key(source_key: str, connect_account: str | None) -> str:
    """What an event received at `source_key`'s endpoint is stored under: the key itself, or, for an event of a
    connected account, `<source_key>:<account>`. PayloadError when that is longer than the stores hold."""
    if not connect_account:
        return source_key
    found = f"{source_key}:{connect_account}"
    if len(found) > KEY_MAX or "/" in connect_account or ":" in connect_account:
        raise PayloadError(f"the event's connected account id cannot key it (at most {KEY_MAX - len(source_key) - 1} "
                           "characters, no / or :)")
    return found


def package(name: str) -> Package:
    """The package of provider key `name` (`stripe` or `stripe/eu`); ConfigError when no such provider is
    registered."""
    name = split(name)[0]
    if name not in PACKAGES:
        raise ConfigError(f"no provider {name!r}: the providers are {', '.join(PACKAGES)}")
    module: ModuleType = importlib.import_module(f"bridge.providers.{name}")
    return cast(Package, module)


def find(name: str) -> Package | None:
    """The package called `name`, or None when no such provider is registered (an event stored by another
    deployment's providers, say)."""
    return package(name) if split(name)[0] in PACKAGES else None


def packages() -> tuple[Package, ...]:
    """Every registered package, in `PACKAGES` order."""
    return tuple(package(name) for name in PACKAGES)


def configure(env: Mapping[str, str]) -> dict[str, Any]:
    """Each configured package's configuration by name; a package whose secret is unset is left out. Only its
    unsuffixed variables are read: `bridge.settings` finds the named sources and configures each by key."""
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
    """The verifier and parser of every configured provider, by key (its endpoint is /webhooks/<key>:
    `/webhooks/stripe`, `/webhooks/stripe/eu`)."""
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
    variables ending in `_API_KEY`, else all of them; with a named source's suffix for its key (`stripe/eu`:
    STRIPE_API_KEY_EU)."""
    each, source = package(name), split(name)[1]
    named = getattr(each, "API_KEY_VARIABLE", None)
    keys = [named] if isinstance(named, str) else [v for v in each.VARIABLES if v.endswith("_API_KEY")]
    suffix = "" if source == DEFAULT_SOURCE else f"_{source.upper()}"
    return " / ".join(f"{variable}{suffix}" for variable in keys or each.VARIABLES)


def enrichers(store: Any, configs: Mapping[str, Any], clock: Callable[[], float]) -> dict[str, Any]:
    """The enricher of each provider key in `configs` that has one (a None config: from the cache only). A named
    source's enricher caches under its key (`_KeyedCache`), so two accounts' objects of one id never mix."""
    found: dict[str, Any] = {}
    for name, config in configs.items():
        each = package(name)
        make, fetch = getattr(each, "enricher", None), getattr(each, "enrichment", None)
        if make is not None:
            found[name] = make(store if name == each.NAME else _KeyedCache(store, name), config, clock)
        elif callable(fetch) and config is not None and (api := each.source(config)) is not None:
            found[name] = _Fetching(fetch, api, bool(getattr(each, "CONFIRMS_EVENTS", False)))
    return found


class _KeyedCache:
    """The store as a named source's enricher sees it: its object cache reads and writes under the source's key
    whatever provider name the package passes (a package knows only its own name); everything else is the store."""

    def __init__(self, store: Any, provider_key: str):
        self._store, self._key = store, provider_key

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._store, attribute)

    def cached_object(self, provider: str, object_id: str) -> Any:
        return self._store.cached_object(self._key, object_id)

    def cache_object(self, provider: str, *args: Any, **kwargs: Any) -> Any:
        return self._store.cache_object(self._key, *args, **kwargs)

    def cache_objects(self, provider: str, *args: Any, **kwargs: Any) -> Any:
        return self._store.cache_objects(self._key, *args, **kwargs)


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
    standing = getattr(package(name), "version_standing", None) if find(name) is not None else None
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
    name = split(name)[0]
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
