"""Paddle Billing's settings, read from the environment mapping the core hands over (never `os.environ`).

The payload of a Paddle notification does not say whether it comes from the sandbox or the live account:
the sandbox is a separate account with its own notification destinations and secrets, so there is no
`PADDLE_MODE`; a deployment points one destination at `/webhooks/paddle` and sets that destination's secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from bridge.errors import ConfigError

LIVE_API_BASE = "https://api.paddle.com"
SANDBOX_API_BASE = "https://sandbox-api.paddle.com"
DEFAULT_TOLERANCE = 300
MAX_TOLERANCE = 3600
_DIGITS = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class PaddleConfig:
    """Everything the Paddle package needs; `repr` never shows a secret or the API key."""

    secrets: tuple[str, ...]
    tolerance: int = DEFAULT_TOLERANCE
    api_key: str | None = None
    api_base: str = LIVE_API_BASE

    def __repr__(self) -> str:
        return (f"PaddleConfig(secrets=<{len(self.secrets)} set>, tolerance={self.tolerance}, "
                f"api_key={'<set>' if self.api_key else None}, api_base={self.api_base!r})")


def configure(env: Mapping[str, str]) -> PaddleConfig | None:
    """The configuration, or None when PADDLE_WEBHOOK_SECRET is unset; ConfigError naming a variable set wrong."""
    secrets = tuple(part.strip() for part in env.get("PADDLE_WEBHOOK_SECRET", "").split(",") if part.strip())
    if not secrets:
        return None
    return PaddleConfig(
        secrets=secrets,
        tolerance=_tolerance(env.get("PADDLE_SIGNATURE_TOLERANCE_SECONDS", "")),
        api_key=env.get("PADDLE_API_KEY", "").strip() or None,
        api_base=_api_base(env.get("PADDLE_API_BASE", "")),
    )


def _tolerance(raw: str) -> int:
    raw = raw.strip()
    if not raw:
        return DEFAULT_TOLERANCE
    if not _DIGITS.fullmatch(raw):
        raise ConfigError("PADDLE_SIGNATURE_TOLERANCE_SECONDS must be a whole number of seconds, written in digits")
    value = int(raw)
    if not 1 <= value <= MAX_TOLERANCE:
        raise ConfigError(f"PADDLE_SIGNATURE_TOLERANCE_SECONDS must be between 1 and {MAX_TOLERANCE}")
    return value


def _api_base(raw: str) -> str:
    """An https URL without query or fragment (http only for a loopback test server), no trailing slash."""
    base = raw.strip().rstrip("/") or LIVE_API_BASE
    wrong = ConfigError(f"PADDLE_API_BASE must be an https URL such as {LIVE_API_BASE} or {SANDBOX_API_BASE}")
    try:
        parts = urlsplit(base)
        host = parts.hostname
    except ValueError:
        raise wrong from None
    loopback = host in ("127.0.0.1", "localhost", "::1")
    if parts.scheme not in ("https", "http") or not host or parts.query or parts.fragment \
            or (parts.scheme == "http" and not loopback):
        raise wrong
    return base
