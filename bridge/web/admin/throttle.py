"""Failed admin logins, counted in the database so that every web process of a deployment shares one count.

After FREE_ATTEMPTS failures in a row, each further attempt must wait twice as long as the one before (2 s, 4 s,
… up to MAX_WAIT_SECONDS) after the last failure; a success, or an hour without failures, starts over. The count is
deliberately not per client address: behind a PaaS router the address is the router's, and a forwarded one can be
forged. While the console is throttled the operator still has the `bridge` commands.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bridge.store.store import Store

CONTROL = "admin_login_failures"
FREE_ATTEMPTS = 5
MAX_WAIT_SECONDS = 900.0
FORGET_SECONDS = 3600.0


@dataclass(frozen=True)
class Failures:
    count: int
    last: float

    def wait(self, now: float) -> float:
        """Seconds before the next attempt may be checked (0.0: now)."""
        if self.count < FREE_ATTEMPTS or now - self.last > FORGET_SECONDS:
            return 0.0
        delay = min(2.0 ** (self.count - FREE_ATTEMPTS + 1), MAX_WAIT_SECONDS)
        return max(self.last + delay - now, 0.0)


class Throttle:
    """Reads and records failed logins through the store's deployment-wide controls."""

    def __init__(self, store: Store):
        self.store = store

    def current(self, now: float) -> Failures:
        return _parse(self.store.control(CONTROL), now)

    def wait(self, now: float) -> float:
        return self.current(now).wait(now)

    def failed(self, now: float) -> int:
        """Count one more failure (a compare-and-swap, so concurrent failures are all counted); the new count."""
        count = 0
        for _ in range(20):
            raw = self.store.control(CONTROL)
            count = _parse(raw, now).count + 1
            if self.store.swap_control(CONTROL, raw, json.dumps({"count": count, "last": now}), now):
                break
        return count

    def succeeded(self, now: float) -> None:
        self.store.set_control(CONTROL, None, now)


def _parse(raw: str | None, now: float) -> Failures:
    """The stored count; a damaged value or one older than FORGET_SECONDS counts as none."""
    try:
        data = json.loads(raw) if raw else {}
        failures = Failures(int(data.get("count", 0)), float(data.get("last", 0.0)))
    except (ValueError, TypeError, AttributeError):
        return Failures(0, 0.0)
    return Failures(0, 0.0) if now - failures.last > FORGET_SECONDS else failures
