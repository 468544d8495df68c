"""Progress of a long command: one line rewritten in place on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

log = logging.getLogger("bridge.progress")


class Progress:
    """Counts and a rate for `what` (the count the rate is about), shown every so often."""

    def __init__(self, title: str, what: str, stream: TextIO | None = None, log_every: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        self.title, self.what, self.stream = title, what, stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = 0.2 if self.tty else log_every
        self.clock, self.started = clock, clock()
        self.counts: dict[str, int] = {}
        self._next = self.started + self.every

    def update(self, **counts: int) -> None:
        """Record the current counts; show them when it is time."""
        self.counts.update(counts)
        if self.clock() >= self._next:
            self._show()

    def line(self) -> str:
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.counts.get(self.what, 0) / elapsed
        shown = ", ".join(f"{name} {count:,}" for name, count in self.counts.items())
        return f"{self.title}: {shown} ({rate:,.0f} {self.what}/s, {elapsed:,.0f} s)"

    def finish(self) -> None:
        """Show the final counts; end the terminal line."""
        if self.tty:
            self.stream.write("\r" + self.line() + "\n")
            self.stream.flush()

    def _show(self) -> None:
        self._next = self.clock() + self.every
        if self.tty:
            self.stream.write("\r" + self.line() + "\033[K")
            self.stream.flush()
        else:
            log.info(self.line(), extra={"progress": self.title, **self.counts})
