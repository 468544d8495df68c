"""Maxio's API, read-only: subscriptions page by page, and what a webhook leaves out (`enrichment`).

`GET /subscriptions.json?page=N&per_page=200` lists the site's subscriptions (200 is the largest page; a page
shorter than that is the last), for `bridge sync maxio`, each with its components and their price points
attached. `enrichment(api, event)` fetches, for the subscription an event is about, `GET /subscriptions/{id}.json`,
`GET /subscriptions/{id}/components.json` and each component's `GET /components/{id}/price_points/{pp}.json`,
and the customer's metafields, `GET /customers/{id}/metadata.json`.

Authentication is HTTP Basic with the API key as the user name and `x` as the password
(developers.maxio.com, authentication). A 429 or a 5xx is retried a few times in-process, honouring
`Retry-After`; what still fails raises a `MaxioApiError`, which is worth retrying later (the worker's durable
retry, or a rerun of sync, resumes). A 401 or 403 is a ConfigError (the key is wrong or lacks access); a 404 is
`NotFound` (the subscription was deleted), which retrying cannot fix.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from bridge.errors import EnrichmentUnavailable
from bridge.providers import Event
from bridge.providers.http import ApiClient
from bridge.providers.http import retry_after as retry_after
from bridge.providers.maxio.catalog import ON_OFF, QUANTITY, price_point_key
from bridge.providers.maxio.identity import metafields_of
from bridge.providers.maxio.values import text, whole
from bridge.providers.values import mapping

PAGE_SIZE = 200
TIMEOUT = (5.0, 30.0)  # connect, read


class MaxioApiError(EnrichmentUnavailable):
    """Maxio's API could not be used right now; worth retrying later."""


class NotFound(MaxioApiError):
    """Maxio answered 404: what was asked for does not exist (any more); retrying cannot help."""


@dataclass
class MaxioApi:
    """Read-only calls to one Maxio site, with a short in-process retry; implements `SubscriptionSource`."""

    base: str  # https://acme.chargify.com
    api_key: str = field(repr=False)
    session: requests.Session = field(default_factory=requests.Session, repr=False)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self._http = ApiClient("Maxio", "MAXIO_API_KEY", MaxioApiError, NotFound,
                               on_401="set a valid API key of this site", on_403="it lacks access to what bridge reads",
                               session=self.session,
                               sleep=lambda seconds: self.sleep(seconds), clock=lambda: self.clock(), timeout=TIMEOUT)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """The JSON Maxio answers for `GET {base}{path}`, retried on 429, 5xx and network errors."""
        return self._http.json(self.base, path, params=params, auth=(self.api_key, "x"),
                               headers={"Accept": "application/json"})

    def subscriptions(self, cursor: str | None = None) -> Iterator[tuple[list[Mapping[str, Any]], str | None]]:
        """Every subscription with its components attached, a page at a time; the cursor is the next page."""
        page = whole(cursor) or 1
        while True:
            found = self.get("/subscriptions.json", {"page": page, "per_page": PAGE_SIZE})
            listed = [mapping(mapping(entry).get("subscription")) for entry in _list(found)]
            subscriptions = [self.with_components(sub) for sub in listed if text(sub.get("id"))]
            following = str(page + 1) if len(listed) == PAGE_SIZE else None
            yield subscriptions, following
            if following is None:
                return
            page += 1

    def subscription(self, subscription_id: str) -> Mapping[str, Any]:
        return mapping(mapping(self.get(f"/subscriptions/{_id(subscription_id)}.json")).get("subscription"))

    def components(self, subscription_id: str) -> list[Mapping[str, Any]]:
        found = self.get(f"/subscriptions/{_id(subscription_id)}/components.json")
        return [mapping(mapping(entry).get("component")) for entry in _list(found)]

    def price_points(self, components: list[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
        """The price point of each priced component in use, filed by `catalog.price_point_key`."""
        found: dict[str, Mapping[str, Any]] = {}
        for component in components:
            key = price_point_key(component)
            priced = text(component.get("component_id")) and text(component.get("price_point_id"))
            if component.get("kind") not in QUANTITY + ON_OFF or not priced or key in found:
                continue
            answer = self.get(f"/components/{_id(text(component.get('component_id')))}/price_points/"
                              f"{_id(text(component.get('price_point_id')))}.json")
            found[key] = mapping(mapping(answer).get("price_point"))
        return found

    def metafields(self, customer_id: str) -> dict[str, str]:
        return metafields_of(mapping(self.get(f"/customers/{_id(customer_id)}/metadata.json")))

    def with_components(self, subscription: Mapping[str, Any]) -> Mapping[str, Any]:
        components = self.components(str(subscription["id"]))
        return {**subscription, "components": components, "component_price_points": self.price_points(components)}


def enrichment(api: MaxioApi, event: Event) -> dict[str, Any]:
    """What `facts` reads beyond the payload: `subscription`, `components`, `price_points`, `metafields`.

    Empty when the event is about no subscription or customer. Raises NotFound or MaxioApiError (both
    EnrichmentUnavailable: the worker retries a few times, then maps what the event says)."""
    payload = mapping(event.payload.get("payload"))
    subscription_id = text(mapping(payload.get("subscription")).get("id")) or text(payload.get("subscription_id"))
    found: dict[str, Any] = {}
    if subscription_id:
        found["subscription"] = api.subscription(subscription_id)
        found["components"] = api.components(subscription_id)
        found["price_points"] = api.price_points(found["components"])
    if event.customer_id:
        found["metafields"] = api.metafields(event.customer_id)
    return found


def _list(found: Any) -> list[Any]:
    if not isinstance(found, list):
        raise MaxioApiError("Maxio's answer is not a list")
    return found


def _id(value: str | None) -> str:
    """An id as a path segment: Maxio's ids are numbers; anything else is refused, not sent."""
    if not value or not value.isdigit():
        raise NotFound("a Maxio id in the payload is not a number; not asked")
    return value
