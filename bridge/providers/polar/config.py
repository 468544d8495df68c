"""Polar settings, read from the environment handed in: the webhook secrets and the optional API access.

Polar's webhook secret is used as it is (its UTF-8 bytes are the HMAC key), not base64-decoded: Polar signs with
the standard library after base64-encoding the secret, which decodes back to the same bytes. Several secrets,
comma-separated, are accepted while one is rolled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.providers.variables import address, requests_per_second, secret_list, text

SECRET_VARIABLE = "POLAR_WEBHOOK_SECRET"  # noqa: S105 (a variable name, not a secret)
API_KEY_VARIABLE = "POLAR_API_KEY"
API_BASE_VARIABLE = "POLAR_API_BASE"
RATE_VARIABLE = "POLAR_REQUESTS_PER_SECOND"
# Polar allows 100 requests a minute per organization in its sandbox, 500 in production, shared with the application.
DEFAULT_REQUESTS_PER_SECOND = 1.0
PRODUCTION_API = "https://api.polar.sh"
SANDBOX_API = "https://sandbox-api.polar.sh"


@dataclass(frozen=True)
class PolarConfig:
    """The webhook secrets, and the API key and address for `bridge sync polar`."""

    secrets: tuple[str, ...] = field(repr=False)
    api_key: str | None = field(default=None, repr=False)
    api_base: str = PRODUCTION_API
    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND  # the subscription list's budget

    @property
    def keys(self) -> tuple[bytes, ...]:
        """The HMAC keys: each secret's UTF-8 bytes, `whsec_` prefix included."""
        return tuple(secret.encode("utf-8") for secret in self.secrets)


def configure(env: Mapping[str, str]) -> PolarConfig | None:
    """The settings from `env`, or None when no webhook secret is set; ConfigError for an unusable value."""
    secrets = secret_list(env, SECRET_VARIABLE)
    if not secrets:
        return None
    api_base = address(env, API_BASE_VARIABLE, PRODUCTION_API, f"{PRODUCTION_API} (sandbox: {SANDBOX_API})",
                       http_anywhere=True)
    return PolarConfig(secrets, text(env, API_KEY_VARIABLE), api_base,
                       requests_per_second(env, RATE_VARIABLE, DEFAULT_REQUESTS_PER_SECOND))
