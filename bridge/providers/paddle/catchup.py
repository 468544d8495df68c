"""Paddle's event log for `bridge catchup paddle`: `GET /events`, kept by Paddle for 90 days, newest first.

Paddle's list of events has no time filter and no delivery status (developer.paddle.com/api-reference/events/
list-events): the log is read newest first by id until a page reaches events older than the window, with a
margin, since an event's id and its `occurred_at` need not agree to the second. Each item has the fields of a
notification (`event_id`, `event_type`, `occurred_at`, `data`), so it is parsed by the webhook's own parser and
deduplicated on the same `event_id`. Which notifications failed is Paddle's notifications' business, not the
events': `--failed-only` is refused with a message saying so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from bridge.errors import ConfigError
from bridge.mapping import MappingSet
from bridge.providers import Event, storable
from bridge.providers.paddle.api import PaddleApi
from bridge.providers.paddle.fields import rfc3339
from bridge.providers.paddle.webhook import event
from bridge.sync.catchup import iso, parse_time

RETENTION_SECONDS = 90 * 86400  # Paddle returns no event older than 90 days
MARGIN_SECONDS = 300  # read on until a page's oldest event is this much older than the window's start


class PaddleEventLog:
    """Paddle's `GET /events` through the package's API client; each event parsed as its notification would be."""

    def __init__(self, api: PaddleApi):
        self.api = api

    @property
    def requests(self) -> int:
        return self.api.requests

    def start(self, since: str, now: float) -> tuple[float, str | None]:
        """An ISO 8601 time; at most 90 days back, with a note when asked for more."""
        start = parse_time(since)
        oldest = now - RETENTION_SECONDS
        if start >= oldest:
            return start, None
        return oldest, (f"Paddle keeps events for 90 days: {since} is older, so the catch-up starts at "
                        f"{iso(oldest)}; events before then cannot be fetched (run `bridge sync paddle` "
                        f"to bring every subscription's current state instead)")

    def pages(self, start: float, types: list[str] | None, failed_only: bool) -> Iterator[list[dict[str, Any]]]:
        """The events from `start` on, newest first; an item whose time cannot be read is kept (parse skips it)."""
        if failed_only:
            raise ConfigError("--failed-only is not available for Paddle: its event log does not say which "
                              "notifications failed (catch up on the whole window instead; duplicates are skipped)")
        for page in self.api.events():
            times = [occurred(item) for item in page]
            yield [dict(item) for item, at in zip(page, times, strict=True) if at is None or at >= start]
            known = [at for at in times if at is not None]
            if known and min(known) < start - MARGIN_SECONDS:
                return

    def parse(self, item: Mapping[str, Any]) -> Event:
        return storable(event(dict(item)))

    def types(self, mappings: MappingSet | None) -> list[str] | None:
        """Every type: Paddle's list of events is not asked for by type, and the window is filtered here."""
        return None


def occurred(item: Mapping[str, Any]) -> float | None:
    """An event's `occurred_at` as unix seconds; None when it is not an RFC 3339 time."""
    return rfc3339(item.get("occurred_at"))
