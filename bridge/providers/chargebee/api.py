"""Chargebee's API, read-only: an event fetched again by id (the trust check), and every subscription page by page.

Chargebee signs no webhook, so its body proves nothing by itself; with `CHARGEBEE_API_KEY` the core calls
`enrichment(api, event)` before mapping: `GET /events/{id}` must return the same event (id, type, time), and its
content — Chargebee's own copy — is what `facts` reads. An event Chargebee does not know raises
`EventNotConfirmed`: it should be held, never mapped. `subscriptions` lists `GET /subscriptions` with `limit` 100
and Chargebee's `offset` cursor (`next_offset`), for `bridge sync chargebee`; `events` lists `GET /events` the
same way, newest first from a time on, for `bridge catchup chargebee` (apidocs.chargebee.com/docs/api/events).

Authentication is HTTP Basic with the API key as the username and no password (apidocs.chargebee.com/docs/api/
auth). A 429 (rate limit: requests per minute per site) or a 5xx is retried a few times, honouring `Retry-After`;
what still fails raises a `ChargebeeApiError` (a rerun, or the worker's durable retry, tries again later).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from bridge.errors import EnrichmentUnavailable, EventUnconfirmed
from bridge.providers import Event
from bridge.providers.budget import RequestBudget
from bridge.providers.chargebee.webhook import customer_of
from bridge.providers.http import TRIES as TRIES
from bridge.providers.http import ApiClient, error_code
from bridge.providers.http import retry_after as retry_after

PAGE_SIZE = 100  # Chargebee's largest `limit`


class ChargebeeApiError(EnrichmentUnavailable):
    """Chargebee's API could not be used right now; what was done so far is kept."""


class NotFound(ChargebeeApiError):
    """Chargebee answered 404."""


class EventNotConfirmed(ChargebeeApiError, EventUnconfirmed):
    """Chargebee does not know this event, or knows it differently: the webhook's body is not to be trusted (an
    EventUnconfirmed: the worker holds the event)."""


@dataclass
class ChargebeeApi:
    """Read-only calls to one Chargebee site, with a short in-process retry."""

    base: str  # e.g. https://acme.chargebee.com/api/v2
    api_key: str = field(repr=False)
    session: requests.Session = field(default_factory=requests.Session, repr=False)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    requests_per_second: float | None = None  # the budget (CHARGEBEE_REQUESTS_PER_SECOND); None: unpaced

    def __post_init__(self) -> None:
        budget = RequestBudget(self.requests_per_second, sleep=lambda seconds: self.sleep(seconds)) \
            if self.requests_per_second else None
        self._http = ApiClient("Chargebee", "CHARGEBEE_API_KEY", ChargebeeApiError, NotFound,
                               on_401="set a valid read-only key", on_403="it lacks a read permission this needs",
                               detail=lambda response: error_code(response, "api_error_code"),
                               session=self.session,
                               sleep=lambda seconds: self.sleep(seconds), clock=lambda: self.clock(),
                               pace=budget.take if budget else _unpaced)

    @property
    def calls(self) -> int:
        """Requests made, retries included."""
        return self._http.calls

    @property
    def requests(self) -> int:
        """Requests made, retries included (the catch-up's report)."""
        return self._http.calls

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        """The JSON object Chargebee answers for `GET {base}{path}`."""
        return self._http.object(self.base, path, params=params, auth=(self.api_key, ""),
                                 headers={"Accept": "application/json"})

    def event(self, event_id: str) -> Mapping[str, Any]:
        """`GET /events/{id}`: Chargebee's own copy of an event; EventNotConfirmed when it has none."""
        try:
            found = self.get(f"/events/{quote(event_id, safe='')}")
        except NotFound:
            raise EventNotConfirmed(f"Chargebee has no event {event_id}: the webhook is not genuine") from None
        event = found.get("event")
        if not isinstance(event, dict):
            raise ChargebeeApiError("Chargebee's answer for an event has no 'event'")
        return event

    def snapshot(self, raw: Mapping[str, Any], run_id: str, asked_at: float) -> Any:
        """A listed subscription as `bridge sync` stores it: an event in the shape Chargebee's webhooks have
        (`content.subscription`, `content.customer`), which `facts` reads as it reads a webhook."""
        from bridge.sync.initial import NEUTRAL_TYPE, Snapshot  # the sync imports the worker: only when syncing

        customer = raw.get("customer")
        content: dict[str, Any] = {"subscription": {k: v for k, v in raw.items() if k != "customer"}}
        if isinstance(customer, dict):
            content["customer"] = customer
        created = int(asked_at)
        event_id = f"sync_{run_id}_{raw['id']}"
        payload = {"id": event_id, "object": "event", "event_type": NEUTRAL_TYPE, "occurred_at": created,
                   "content": content, "bridge_sync": True}
        return Snapshot(Event(provider="chargebee", id=event_id, type=NEUTRAL_TYPE, created=float(created),
                              livemode=None, api_version=None, connect_account=None,
                              customer_id=customer_of(content), payload=payload))

    def subscriptions(self, cursor: str | None = None) -> Iterator[tuple[list[Mapping[str, Any]], str | None]]:
        """Every subscription, a page (`limit` 100) at a time, each with its customer attached as `customer`.

        The cursor is Chargebee's `next_offset`; None after the last page."""
        while True:
            params = {"limit": PAGE_SIZE, **({"offset": cursor} if cursor else {})}
            found = self.get("/subscriptions", params)
            page = [_with_customer(entry) for entry in found.get("list") or [] if isinstance(entry, dict)]
            following = found.get("next_offset")
            cursor = following if isinstance(following, str) and following else None
            yield [subscription for subscription in page if subscription is not None], cursor
            if cursor is None:
                return


    def events(self, after: int, failed_only: bool = False) -> Iterator[list[Mapping[str, Any]]]:
        """The events that occurred after unix second `after`, a page (`limit` 100) at a time, newest first.

        With `failed_only`, only those whose webhook failed or waits to be retried (Chargebee keeps that status
        for six days)."""
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": PAGE_SIZE, "occurred_at[after]": after,
                                      "sort_by[desc]": "occurred_at"}
            if failed_only:
                params["webhook_status[in]"] = '["failed","re_scheduled"]'
            if cursor:
                params["offset"] = cursor
            found = self.get("/events", params)
            yield [entry["event"] for entry in found.get("list") or []
                   if isinstance(entry, dict) and isinstance(entry.get("event"), dict)]
            following = found.get("next_offset")
            if not isinstance(following, str) or not following or following == cursor:
                return
            cursor = following


def enrichment(api: ChargebeeApi, event: Event) -> dict[str, Any]:
    """What the core hands to `facts` for a Chargebee event: `{"event": <Chargebee's copy>}`, once it matches.

    Raises EventNotConfirmed when Chargebee does not know the event or its copy has another type or time (hold
    the event, do not map it), ChargebeeApiError when Chargebee cannot be asked now
    (an EnrichmentUnavailable: the worker retries later). A sync's snapshot is not asked about."""
    if event.payload.get("bridge_sync"):
        return {}  # a sync's snapshot, read from the API itself (`snapshot`); no webhook carries the mark
    fetched = api.event(event.id)
    same = (fetched.get("id") == event.id and fetched.get("event_type") == event.type
            and fetched.get("occurred_at") == event.payload.get("occurred_at"))
    if not same:
        raise EventNotConfirmed(f"Chargebee's copy of event {event.id} differs from the webhook's (id, type or "
                                "time): the webhook is not genuine")
    return {"event": fetched}


def _unpaced() -> None:
    return None


def _with_customer(entry: Mapping[str, Any]) -> Mapping[str, Any] | None:
    subscription = entry.get("subscription")
    if not isinstance(subscription, dict):
        return None
    customer = entry.get("customer")
    return {**subscription, "customer": customer} if isinstance(customer, dict) else subscription
