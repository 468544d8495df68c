"""Recurly's settings, read from the environment mapping the core hands over (never `os.environ`).

Recurly signs JSON webhooks with a per-endpoint secret (several, comma-separated, while one is replaced). The
API key is optional: JSON webhooks carry ids only, so without it `facts` can say little more than the event type
(docs/providers/recurly.md, gap table). Sandbox and production are separate sites with separate endpoints and
secrets, and the payload marks neither, so there is no `RECURLY_MODE`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.errors import ConfigError
from bridge.providers.variables import address, secret_list, text

SECRET_VARIABLE = "RECURLY_WEBHOOK_SECRET"  # noqa: S105 - the variable's name, not a secret
API_KEY_VARIABLE = "RECURLY_API_KEY"
API_BASE_VARIABLE = "RECURLY_API_BASE"
VARIABLES = (SECRET_VARIABLE, API_KEY_VARIABLE, API_BASE_VARIABLE)
US_API = "https://v3.recurly.com"
EU_API = "https://v3.eu.recurly.com"  # sites hosted in Recurly's EU data centre
MAX_SECRET = 1024  # characters; Recurly's secrets are 64 hex characters


@dataclass(frozen=True)
class RecurlyConfig:
    """The webhook secrets and the optional API access; `repr` never shows a secret or the key."""

    secrets: tuple[str, ...] = field(repr=False)
    api_key: str | None = field(default=None, repr=False)
    api_base: str = US_API


def configure(env: Mapping[str, str]) -> RecurlyConfig | None:
    """The settings from `env`, or None when no webhook secret is set; ConfigError for an unusable value."""
    secrets = secret_list(env, SECRET_VARIABLE)
    if not secrets:
        return None
    for secret in secrets:
        if len(secret) > MAX_SECRET or not secret.isprintable():
            raise ConfigError(f"{SECRET_VARIABLE}: a secret is longer than {MAX_SECRET} characters or has a "
                              "control character")
    api_key = text(env, API_KEY_VARIABLE)
    if api_key is not None and (":" in api_key or not api_key.isprintable()):
        raise ConfigError(f"{API_KEY_VARIABLE} must be a Recurly private API key (no ':' or control characters)")
    return RecurlyConfig(secrets, api_key, address(env, API_BASE_VARIABLE, US_API, f"{US_API} (EU sites: {EU_API})"))
