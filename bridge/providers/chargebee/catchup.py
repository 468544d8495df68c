"""Chargebee's event log for `bridge catchup chargebee`: `GET /events` from a time on, newest first.

Chargebee filters its events by `occurred_at[after]` (unix seconds, exclusive) and sorts them by `occurred_at`
(apidocs.chargebee.com/docs/api/events/list-events); the catch-up stores them oldest first, so they are asked
for newest first (`sort_by[desc]`) as `bridge.sync.catchup` expects. Each listed event is the object a webhook
carries, parsed by the webhook's own parser and deduplicated on the same `id`. Chargebee documents no limit on
how far back its API lists events, so no window is cut short here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from bridge.errors import ConfigError
from bridge.mapping import MappingSet
from bridge.providers import Event, storable
from bridge.providers.chargebee.api import ChargebeeApi, EventNotConfirmed
from bridge.providers.chargebee.webhook import event_of
from bridge.sync.catchup import parse_time

EVENT_PREFIX = "ev_"  # Chargebee's event ids


class ChargebeeEventLog:
    """Chargebee's `GET /events` through the package's API client; each event parsed as its webhook would be."""

    def __init__(self, api: ChargebeeApi):
        self.api = api

    @property
    def requests(self) -> int:
        return self.api.requests

    def start(self, since: str, now: float) -> tuple[float, str | None]:
        """An event id's time (`ev_…`, asked of Chargebee) or an ISO 8601 time."""
        if not since.startswith(EVENT_PREFIX):
            return parse_time(since, "a Chargebee event id (ev_…)"), None
        try:
            occurred = self.api.event(since).get("occurred_at")
        except EventNotConfirmed:
            raise ConfigError(f"--since {since!r}: Chargebee has no such event") from None
        if not isinstance(occurred, int) or isinstance(occurred, bool):
            raise ConfigError(f"--since {since!r}: Chargebee's copy of the event has no occurred_at")
        return float(occurred), None

    def pages(self, start: float, types: list[str] | None, failed_only: bool) -> Iterator[list[dict[str, Any]]]:
        """The events from `start` on (its second included), newest first; undelivered ones with `failed_only`."""
        for page in self.api.events(math.ceil(start) - 1, failed_only):
            yield [dict(item) for item in page]

    def parse(self, item: Mapping[str, Any]) -> Event:
        return storable(event_of(dict(item)))

    def types(self, mappings: MappingSet | None) -> list[str] | None:
        """Every type: the window is read whole and the webhook's triage decides, as for a delivery."""
        return None
