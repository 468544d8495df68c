"""Stripe's event log for `bridge catchup stripe`: `GET /v1/events`, kept by Stripe for 30 days, newest first."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from bridge.mapping import MappingSet
from bridge.providers import Event
from bridge.providers.stripe.api import StripeApi
from bridge.providers.stripe.facts import event_types as stripe_event_types
from bridge.providers.stripe.webhook import StripeProvider
from bridge.sync.catchup import iso, parse_time

RETENTION_SECONDS = 30 * 86400  # how long Stripe keeps events
CUSTOMER_TYPES = ("customer.created", "customer.updated", "customer.deleted")  # they refresh the cache
MAX_TYPES = 20  # Stripe's limit on `types`


def event_types(mappings: MappingSet | None) -> list[str] | None:
    """The event types worth fetching: the mappings' (when they name exact types) and the customer ones."""
    if mappings is None:
        return None
    names = {glob for rule in mappings.rules if rule.provider == "stripe" for glob in rule.events}
    names |= stripe_event_types(glob for rule in mappings.rules if rule.provider == "*" for glob in rule.events)
    if any(any(c in name for c in "*?[") for name in names):
        return None
    wanted = sorted(names | set(CUSTOMER_TYPES))
    return wanted if len(wanted) <= MAX_TYPES else None


class StripeEventLog:
    """Stripe's Events API within STRIPE_REQUESTS_PER_SECOND; each event parsed as its webhook would be."""

    def __init__(self, api: StripeApi):
        self.api = api
        self._parser = StripeProvider(())

    @property
    def requests(self) -> int:
        return self.api.requests

    def start(self, since: str, now: float) -> tuple[float, str | None]:
        """An event id's time or an ISO 8601 time; at most 30 days back, with a note when asked for more."""
        if since.startswith("evt_"):
            found = self.api.call(lambda: self.api.client.v1.events.retrieve(since))
            start = float(found.created)
        else:
            start = parse_time(since, "a Stripe event id (evt_…)")
        oldest = now - RETENTION_SECONDS
        if start >= oldest:
            return start, None
        return oldest, (f"Stripe keeps events for 30 days: {since} is older, so the catch-up starts at "
                        f"{iso(oldest)}; events before then cannot be fetched (run `bridge sync stripe` "
                        f"to bring every account's current state instead)")

    def pages(self, start: float, types: list[str] | None, failed_only: bool) -> Iterator[list[dict[str, Any]]]:
        params: dict[str, Any] = {"created": {"gte": int(start)}}
        if types:
            params["types"] = types
        if failed_only:
            params["delivery_success"] = False
        for page in self.api.pages(lambda q: self.api.client.v1.events.list(params=q), params):  # type: ignore[arg-type]
            yield page.items

    def parse(self, item: Mapping[str, Any]) -> Event:
        return self._parser.parse(json.dumps(item, separators=(",", ":")).encode())

    def types(self, mappings: MappingSet | None) -> list[str] | None:
        return event_types(mappings)
