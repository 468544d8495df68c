"""Chargebee's API, read-only: an event fetched again by id (the trust check), and every subscription page by page.

Chargebee signs no webhook, so its body proves nothing by itself; with `CHARGEBEE_API_KEY` the core calls
`enrichment(api, event)` before mapping: `GET /events/{id}` must return the same event (id, type, time), and its
content — Chargebee's own copy — is what `facts` reads. An event Chargebee does not know raises
`EventNotConfirmed`: it should be held, never mapped. `subscriptions` lists `GET /subscriptions` with `limit` 100
and Chargebee's `offset` cursor (`next_offset`), for `bridge sync chargebee`.

Authentication is HTTP Basic with the API key as the username and no password (apidocs.chargebee.com/docs/api/
auth). A 429 (rate limit: requests per minute per site) or a 5xx is retried a few times, honouring `Retry-After`;
what still fails raises a `ChargebeeApiError` (a rerun, or the worker's durable retry, tries again later).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from bridge.errors import BridgeError, ConfigError, PayloadError
from bridge.providers import Event
from bridge.providers.bodies import read_json

PAGE_SIZE = 100  # Chargebee's largest `limit`
TRIES = 5
MAX_WAIT = 60.0  # seconds; Chargebee's per-minute limit resets within a minute
TIMEOUT = 30.0  # seconds, connect and read
RETRIED = frozenset({429, 500, 502, 503, 504})


class ChargebeeApiError(BridgeError):
    """Chargebee's API could not be used right now; what was done so far is kept."""


class NotFound(ChargebeeApiError):
    """Chargebee answered 404."""


class EventNotConfirmed(ChargebeeApiError):
    """Chargebee does not know this event, or knows it differently: the webhook's body is not to be trusted."""


@dataclass
class ChargebeeApi:
    """Read-only calls to one Chargebee site, with a short in-process retry."""

    base: str  # e.g. https://acme.chargebee.com/api/v2
    api_key: str = field(repr=False)
    session: requests.Session = field(default_factory=requests.Session, repr=False)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    calls: int = 0  # requests made, retries included

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        """The JSON object Chargebee answers for `GET {base}{path}`."""
        for attempt in range(TRIES):
            self.calls += 1
            response = self._send(path, params)
            if response is not None and response.status_code not in RETRIED:
                return self._answer(response)
            if attempt + 1 < TRIES:
                self.sleep(self._wait(response, attempt))
        status = "no answer" if response is None else f"HTTP {response.status_code}"
        raise ChargebeeApiError(f"Chargebee's API kept failing ({status}) after {TRIES} tries: retried later")

    def _send(self, path: str, params: Mapping[str, Any] | None) -> requests.Response | None:
        try:
            return self.session.get(self.base + path, params=params, auth=(self.api_key, ""),
                                    headers={"Accept": "application/json"}, timeout=TIMEOUT)
        except (requests.ConnectionError, requests.Timeout):
            return None

    def _answer(self, response: requests.Response) -> Mapping[str, Any]:
        if response.status_code == 401:
            raise ConfigError("Chargebee refused CHARGEBEE_API_KEY (401): set a valid read-only key")
        if response.status_code == 403:
            raise ConfigError("CHARGEBEE_API_KEY lacks a read permission this needs (403)")
        if response.status_code == 404:
            raise NotFound("Chargebee answered 404 (not found)")
        if response.status_code >= 400:
            raise ChargebeeApiError(f"Chargebee answered HTTP {response.status_code} ({_error_code(response)})")
        try:
            found = read_json(response.content)
        except PayloadError as exc:
            raise ChargebeeApiError(f"Chargebee's answer is not usable JSON: {exc}") from None
        if not isinstance(found, dict):
            raise ChargebeeApiError("Chargebee's answer is not a JSON object")
        return found

    def _wait(self, response: requests.Response | None, attempt: int) -> float:
        """Retry-After (seconds or an HTTP date) when given, else exponential backoff; at most MAX_WAIT."""
        backoff = min(2.0 ** attempt, MAX_WAIT)
        if response is None:
            return backoff
        after = retry_after(response.headers.get("Retry-After"), self.clock())
        return min(after, MAX_WAIT) if after is not None else backoff

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


def enrichment(api: ChargebeeApi, event: Event) -> dict[str, Any]:
    """What the core hands to `facts` for a Chargebee event: `{"event": <Chargebee's copy>}`, once it matches.

    Raises EventNotConfirmed when Chargebee does not know the event or its copy has another type or time (hold
    the event, do not map it), ChargebeeApiError when Chargebee cannot be asked now (retry later)."""
    fetched = api.event(event.id)
    same = (fetched.get("id") == event.id and fetched.get("event_type") == event.type
            and fetched.get("occurred_at") == event.payload.get("occurred_at"))
    if not same:
        raise EventNotConfirmed(f"Chargebee's copy of event {event.id} differs from the webhook's (id, type or "
                                "time): the webhook is not genuine")
    return {"event": fetched}


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _with_customer(entry: Mapping[str, Any]) -> Mapping[str, Any] | None:
    subscription = entry.get("subscription")
    if not isinstance(subscription, dict):
        return None
    customer = entry.get("customer")
    return {**subscription, "customer": customer} if isinstance(customer, dict) else subscription


def _error_code(response: requests.Response) -> str:
    try:
        found = response.json()
    except ValueError:
        return "no error code"
    code = found.get("api_error_code") if isinstance(found, dict) else None
    return str(code)[:100] if code else "no error code"
