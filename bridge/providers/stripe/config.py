"""Stripe's configuration: its own environment variables, read from the `env` the settings hand it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.errors import ConfigError

MODES = ("live", "test", "both")
DEFAULT_API_BASE = "https://api.stripe.com"
VARIABLES = ("STRIPE_WEBHOOK_SECRET", "STRIPE_MODE", "STRIPE_API_KEY", "STRIPE_API_BASE",
             "STRIPE_REQUESTS_PER_SECOND")
API_KEY_VARIABLE = "STRIPE_API_KEY"


@dataclass(frozen=True)
class StripeConfig:
    """What the Stripe package was told: its endpoint's secrets, the mode it accepts, its API key and pace."""

    webhook_secrets: tuple[str, ...] = field(repr=False)
    mode: str = "live"  # which events are mapped: live, test, or both (the others are stored only)
    api_key: str | None = field(default=None, repr=False)  # a restricted read key: enrichment, sync, catch-up
    api_base: str = DEFAULT_API_BASE
    requests_per_second: float = 5.0
    tolerance_seconds: int = 300  # how far a signature's timestamp may be from now


def configure(env: Mapping[str, str]) -> StripeConfig | None:
    """Stripe's configuration, or None when STRIPE_WEBHOOK_SECRET is unset (a comma list while a secret rolls)."""
    secrets = tuple(s.strip() for s in env.get("STRIPE_WEBHOOK_SECRET", "").split(",") if s.strip())
    if not secrets:
        return None
    mode = env.get("STRIPE_MODE", "").strip().lower() or "live"
    if mode not in MODES:
        raise ConfigError(f"STRIPE_MODE must be one of {', '.join(MODES)}")
    return StripeConfig(
        webhook_secrets=secrets,
        mode=mode,
        api_key=env.get("STRIPE_API_KEY", "").strip() or None,
        api_base=env.get("STRIPE_API_BASE", "").strip().rstrip("/") or DEFAULT_API_BASE,
        requests_per_second=_pace(env.get("STRIPE_REQUESTS_PER_SECOND", "")),
    )


def _pace(raw: str) -> float:
    """A finite number of requests per second between 0.1 and 1000; the message never echoes the value."""
    if not raw.strip():
        return 5.0
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError("STRIPE_REQUESTS_PER_SECOND must be a number") from None
    if not math.isfinite(value):
        raise ConfigError("STRIPE_REQUESTS_PER_SECOND must be a finite number")
    if not 0.1 <= value <= 1000.0:
        raise ConfigError("STRIPE_REQUESTS_PER_SECOND must be between 0.1 and 1000")
    return value
