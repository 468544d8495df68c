"""A request budget toward a provider's API: at most so many requests a second, whatever the caller's loop does.

Providers limit requests per account (Chargebee, Polar) or per address (Paddle) and share that limit with the
customer's own application, so a sync or an enricher paces itself below it rather than running into 429s. The
budget is a token bucket: one request may go at once, then one every `1 / rate` seconds on average. Each API
client holds one, so the sync's pages and the enricher's look-ups of one process share it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RequestBudget:
    """At most `rate` requests a second on average, in bursts of at most `burst`."""

    def __init__(self, rate: float, burst: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if rate <= 0:
            raise ValueError("a request budget needs a positive rate")
        self.rate, self._burst = rate, max(burst, 1.0)
        self._tokens, self._clock, self.sleep = self._burst, clock, sleep
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> None:
        """Wait until the next request may go, then count it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            wait = (1.0 - self._tokens) / self.rate if self._tokens < 1.0 else 0.0
            self._tokens -= 1.0
        if wait > 0:
            self.sleep(wait)
