"""Maxio Advanced Billing (formerly Chargify) settings, read from the environment mapping the core hands over.

The webhook secret is the site's Shared Key (the "Site Shared Key" of the site's settings); several,
comma-separated, are accepted while one is replaced. The API is optional: with `MAXIO_SUBDOMAIN` and
`MAXIO_API_KEY` bridge reads subscriptions (`bridge sync maxio`) and what webhooks leave out (components,
metafields). A site lives on one host: `https://{subdomain}.chargify.com` (US), or
`https://{subdomain}.ebilling.maxio.com` (EU), which is chosen by writing the whole host name into
`MAXIO_SUBDOMAIN` (a loopback test server's `http://127.0.0.1:<port>` is taken whole). Payloads carry no test/live
flag (a test site is another site with its own key), so there is no `MAXIO_MODE`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.errors import ConfigError
from bridge.providers.variables import address, secret_list, text

SECRET = "MAXIO_WEBHOOK_SECRET"  # noqa: S105 (a variable name, not a secret)
SUBDOMAIN = "MAXIO_SUBDOMAIN"
API_KEY = "MAXIO_API_KEY"
VARIABLES = (SECRET, SUBDOMAIN, API_KEY)
US_DOMAIN = "chargify.com"
EU_DOMAIN = "ebilling.maxio.com"
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class MaxioConfig:
    """The shared keys, and the API address and key when set; `repr` never shows a key."""

    secrets: tuple[str, ...] = field(repr=False)
    api_base: str | None = None
    api_key: str | None = field(default=None, repr=False)


def configure(env: Mapping[str, str]) -> MaxioConfig | None:
    """The settings, or None when MAXIO_WEBHOOK_SECRET is unset; ConfigError naming a variable set wrong."""
    secrets = secret_list(env, SECRET)
    if not secrets:
        return None
    subdomain = env.get(SUBDOMAIN, "").strip().lower().rstrip("/")
    api_key = text(env, API_KEY)
    if api_key and not subdomain:
        raise ConfigError(f"{API_KEY} needs {SUBDOMAIN} (the site's subdomain, e.g. acme for acme.chargify.com)")
    return MaxioConfig(secrets, api_base(subdomain) if subdomain else None, api_key)


def api_base(subdomain: str) -> str:
    """`https://{subdomain}.chargify.com`, or the EU host when the whole `{subdomain}.ebilling.maxio.com` is given;
    a loopback test server's whole `http://127.0.0.1:<port>` address is taken as it is (the shared rule of
    `bridge.providers.variables.address`)."""
    wrong = ConfigError(f"{SUBDOMAIN} must be the site's subdomain (acme for acme.chargify.com), or for a site in "
                        f"the EU its whole host name (acme.{EU_DOMAIN})")
    if subdomain.startswith("http://"):
        try:
            return address({SUBDOMAIN: subdomain}, SUBDOMAIN, "", "acme")
        except ConfigError:
            raise wrong from None
    label, _, domain = subdomain.partition(".")
    if not _LABEL.fullmatch(label) or domain not in ("", EU_DOMAIN, US_DOMAIN):
        raise wrong
    return f"https://{label}.{domain or US_DOMAIN}"
