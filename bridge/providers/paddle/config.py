"""Paddle Billing's settings, read from the environment mapping the core hands over (never `os.environ`).

The payload of a Paddle notification does not say whether it comes from the sandbox or the live account:
the sandbox is a separate account with its own notification destinations and secrets, so there is no
`PADDLE_MODE`; a deployment points one destination at `/webhooks/paddle` and sets that destination's secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bridge.providers.variables import address, requests_per_second, secret_list, text, whole_number

LIVE_API_BASE = "https://api.paddle.com"
SANDBOX_API_BASE = "https://sandbox-api.paddle.com"
DEFAULT_TOLERANCE = 300
MAX_TOLERANCE = 3600
# Paddle allows 240 requests a minute per IP address (4 a second), shared with the application's own calls.
DEFAULT_REQUESTS_PER_SECOND = 2.0


@dataclass(frozen=True)
class PaddleConfig:
    """Everything the Paddle package needs; `repr` never shows a secret or the API key."""

    secrets: tuple[str, ...]
    tolerance: int = DEFAULT_TOLERANCE
    api_key: str | None = None
    api_base: str = LIVE_API_BASE
    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND  # the list API's budget (sync, catch-up)

    def __repr__(self) -> str:
        return (f"PaddleConfig(secrets=<{len(self.secrets)} set>, tolerance={self.tolerance}, "
                f"api_key={'<set>' if self.api_key else None}, api_base={self.api_base!r}, "
                f"requests_per_second={self.requests_per_second})")


def configure(env: Mapping[str, str]) -> PaddleConfig | None:
    """The configuration, or None when PADDLE_WEBHOOK_SECRET is unset; ConfigError naming a variable set wrong."""
    secrets = secret_list(env, "PADDLE_WEBHOOK_SECRET")
    if not secrets:
        return None
    return PaddleConfig(
        secrets=secrets,
        tolerance=whole_number(env, "PADDLE_SIGNATURE_TOLERANCE_SECONDS", DEFAULT_TOLERANCE, 1, MAX_TOLERANCE),
        api_key=text(env, "PADDLE_API_KEY"),
        api_base=address(env, "PADDLE_API_BASE", LIVE_API_BASE, f"{LIVE_API_BASE} or {SANDBOX_API_BASE}"),
        requests_per_second=requests_per_second(env, "PADDLE_REQUESTS_PER_SECOND", DEFAULT_REQUESTS_PER_SECOND),
    )
