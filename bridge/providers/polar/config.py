"""Polar settings, read from the environment handed in: the webhook secrets and the optional API access.

Polar's webhook secret is used as it is (its UTF-8 bytes are the HMAC key), not base64-decoded: Polar signs with
the standard library after base64-encoding the secret, which decodes back to the same bytes. Several secrets,
comma-separated, are accepted while one is rolled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bridge.errors import ConfigError
from bridge.providers.standard.config import split_secrets

SECRET_VARIABLE = "POLAR_WEBHOOK_SECRET"  # noqa: S105 (a variable name, not a secret)
API_KEY_VARIABLE = "POLAR_API_KEY"
API_BASE_VARIABLE = "POLAR_API_BASE"
PRODUCTION_API = "https://api.polar.sh"
SANDBOX_API = "https://sandbox-api.polar.sh"


@dataclass(frozen=True)
class PolarConfig:
    """The webhook secrets, and the API key and address for `bridge sync polar`."""

    secrets: tuple[str, ...] = field(repr=False)
    api_key: str | None = field(default=None, repr=False)
    api_base: str = PRODUCTION_API

    @property
    def keys(self) -> tuple[bytes, ...]:
        """The HMAC keys: each secret's UTF-8 bytes, `whsec_` prefix included."""
        return tuple(secret.encode("utf-8") for secret in self.secrets)


def configure(env: Mapping[str, str]) -> PolarConfig | None:
    """The settings from `env`, or None when no webhook secret is set; ConfigError for an unusable value."""
    secrets = split_secrets(env.get(SECRET_VARIABLE, ""))
    if not secrets:
        return None
    api_key = env.get(API_KEY_VARIABLE, "").strip() or None
    return PolarConfig(secrets, api_key, _api_base(env.get(API_BASE_VARIABLE, "")))


def _api_base(value: str) -> str:
    """An http(s) address without query or fragment, trailing slash removed; the production API by default."""
    base = value.strip().rstrip("/")
    if not base:
        return PRODUCTION_API
    parts = urlsplit(base)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"{API_BASE_VARIABLE} must be an http(s) address such as {PRODUCTION_API} "
                          f"(sandbox: {SANDBOX_API})")
    return base
