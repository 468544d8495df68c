"""Lemon Squeezy's settings, read from the environment mapping the core hands over (never `os.environ`).

The signing secret is whatever the store owner typed when creating the webhook ("usually a random string between
6 and 40 characters"), so it is taken whole: a comma may be part of it, and there is no rotation list. Test and live
mode share one webhook configuration page but not their webhooks; each payload says which it is (`meta.test_mode`),
and `LEMONSQUEEZY_MODE` says which ones this deployment maps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.errors import ConfigError
from bridge.providers.variables import address, choice, text

SECRET_VARIABLE = "LEMONSQUEEZY_WEBHOOK_SECRET"  # noqa: S105 - the variable's name, not a secret
API_KEY_VARIABLE = "LEMONSQUEEZY_API_KEY"
API_BASE_VARIABLE = "LEMONSQUEEZY_API_BASE"
MODE_VARIABLE = "LEMONSQUEEZY_MODE"
VARIABLES = (SECRET_VARIABLE, API_KEY_VARIABLE, API_BASE_VARIABLE, MODE_VARIABLE)
API = "https://api.lemonsqueezy.com"
MODES = ("live", "test", "both")  # the first is the default
MAX_SECRET = 1024  # characters; Lemon Squeezy's form takes 6 to 40


@dataclass(frozen=True)
class LemonSqueezyConfig:
    """The signing secret, the optional API access and the mode; `repr` never shows the secret or the key."""

    secret: str = field(repr=False)
    api_key: str | None = field(default=None, repr=False)
    api_base: str = API
    mode: str = "live"


def configure(env: Mapping[str, str]) -> LemonSqueezyConfig | None:
    """The settings from `env`, or None when no signing secret is set; ConfigError for an unusable value."""
    secret = env.get(SECRET_VARIABLE, "")
    if not secret.strip():
        return None
    if len(secret) > MAX_SECRET or not secret.isprintable():
        raise ConfigError(f"{SECRET_VARIABLE} is longer than {MAX_SECRET} characters or has a control character")
    api_key = text(env, API_KEY_VARIABLE)
    if api_key is not None and not api_key.isprintable():
        raise ConfigError(f"{API_KEY_VARIABLE} has a control character")
    return LemonSqueezyConfig(secret, api_key, address(env, API_BASE_VARIABLE, API, API),
                              choice(env, MODE_VARIABLE, MODES))


def wanted(livemode: bool | None, mode: str) -> bool:
    """Whether an event of this mode (None: unknown) is mapped under `LEMONSQUEEZY_MODE=mode`."""
    return livemode is None or mode == "both" or livemode == (mode == "live")
