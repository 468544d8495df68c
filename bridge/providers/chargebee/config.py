"""Chargebee's settings, read from the environment mapping the core hands over (never `os.environ`).

Chargebee signs nothing: its webhook can only be protected with HTTP Basic credentials that you choose in its
dashboard, so both `CHARGEBEE_WEBHOOK_USERNAME` and `CHARGEBEE_WEBHOOK_PASSWORD` are needed to turn the endpoint
on. The API key is optional: with it, every event is re-fetched from Chargebee before it is trusted, and
`bridge sync chargebee` can list subscriptions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.errors import ConfigError
from bridge.providers.variables import address, requests_per_second

USERNAME = "CHARGEBEE_WEBHOOK_USERNAME"
PASSWORD = "CHARGEBEE_WEBHOOK_PASSWORD"  # noqa: S105 - the variable's name, not a secret
SITE = "CHARGEBEE_SITE"
API_KEY = "CHARGEBEE_API_KEY"
API_BASE = "CHARGEBEE_API_BASE"
RATE = "CHARGEBEE_REQUESTS_PER_SECOND"
VARIABLES = (USERNAME, PASSWORD, SITE, API_KEY, API_BASE, RATE)
# Chargebee allows 150 requests a minute on a Starter or test site (2.5 a second), shared with the application.
DEFAULT_REQUESTS_PER_SECOND = 1.0

# A site is the subdomain of `{site}.chargebee.com` (a test site is another site, e.g. `acme-test`).
_SITE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
MAX_CREDENTIAL = 1024  # characters; Basic credentials longer than this are not a webhook's


@dataclass(frozen=True)
class ChargebeeConfig:
    """What the Chargebee package needs; `repr` never shows the password or the API key."""

    username: str
    password: str = field(repr=False)
    site: str | None = None
    api_key: str | None = field(default=None, repr=False)
    api_base: str | None = None  # None without an API key
    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND  # the API client's budget (sync, catch-up, re-fetch)


def configure(env: Mapping[str, str]) -> ChargebeeConfig | None:
    """The configuration, or None when neither webhook credential is set (the endpoint then answers 404)."""
    username, password = _value(env, USERNAME), _value(env, PASSWORD)
    if username is None and password is None:
        return None
    if username is None or password is None:
        missing = USERNAME if username is None else PASSWORD
        raise ConfigError(f"{missing} is not set: Chargebee's webhook needs both a username and a password "
                          "(Basic authentication is the only protection Chargebee offers)")
    _check_credentials(username, password)
    site = _site(env)
    api_key = _value(env, API_KEY)
    return ChargebeeConfig(username, password, site, api_key, _api_base(env, site, api_key),
                           requests_per_second(env, RATE, DEFAULT_REQUESTS_PER_SECOND))


def _value(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "")
    return value if value.strip() else None


def _check_credentials(username: str, password: str) -> None:
    if ":" in username:
        raise ConfigError(f"{USERNAME} must not contain ':' (Basic authentication splits on the first one)")
    for name, value in ((USERNAME, username), (PASSWORD, password)):
        if len(value) > MAX_CREDENTIAL:
            raise ConfigError(f"{name} must be at most {MAX_CREDENTIAL} characters")
        if not value.isprintable():
            raise ConfigError(f"{name} must not contain control characters")


def _site(env: Mapping[str, str]) -> str | None:
    site = _value(env, SITE)
    if site is None:
        return None
    site = site.strip()
    if not _SITE.fullmatch(site):
        raise ConfigError(f"{SITE} must be the site's subdomain (as in https://<site>.chargebee.com): "
                          "lower-case letters, digits and dashes")
    return site


def _api_base(env: Mapping[str, str], site: str | None, api_key: str | None) -> str | None:
    base = address(env, API_BASE, "", "https://acme.chargebee.com/api/v2", http_anywhere=True) \
        if _value(env, API_BASE) else None
    if api_key is None:
        return base
    if base is None:
        if site is None:
            raise ConfigError(f"{API_KEY} is set but {SITE} is not: the API's address is "
                              "https://<site>.chargebee.com/api/v2 (or set CHARGEBEE_API_BASE)")
        base = f"https://{site}.chargebee.com/api/v2"
    return base
