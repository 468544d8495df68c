"""Lemon Squeezy's API (JSON:API, bearer key), read-only: a subscription's price and store, and every subscription.

A subscription carries its price's id and its quantity but no amount, interval or currency. `enrichment(api, event)` is
what the worker calls before mapping a subscription event: `GET /v1/prices/{first_subscription_item.price_id}` (unit
price in cents, `renewal_interval_unit`, `renewal_interval_quantity`, scheme, category) and `GET /v1/stores/
{store_id}` (the store's currency, the one its prices are in). Subscription invoices and orders carry their own
amounts and currency, so their events need nothing.

A 429 or 5xx is retried a few times, honouring `Retry-After`. Errors: `LemonSqueezyApiError`
is worth retrying later; `NotFound` (404) is not, nor is a `ConfigError` (401/403: the key is wrong, or belongs to
the other mode).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from bridge.errors import EnrichmentUnavailable
from bridge.providers import Event
from bridge.providers.http import TRIES as TRIES
from bridge.providers.http import ApiClient
from bridge.providers.lemonsqueezy.config import API, API_KEY_VARIABLE
from bridge.providers.values import identifier

ACCEPT = "application/vnd.api+json"
PAGE_SIZE = 100  # Lemon Squeezy's largest page[size]


class LemonSqueezyApiError(EnrichmentUnavailable):
    """Lemon Squeezy's API could not be used right now: worth retrying later."""


class NotFound(LemonSqueezyApiError):
    """Lemon Squeezy answered 404 (retrying will not help)."""


@dataclass
class LemonSqueezyApi:
    """Bearer-key calls to Lemon Squeezy's API, with a short in-process retry."""

    api_key: str = field(repr=False)
    api_base: str = API
    session: requests.Session = field(default_factory=requests.Session, repr=False)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self._http = ApiClient("Lemon Squeezy", API_KEY_VARIABLE, LemonSqueezyApiError, NotFound,
                               on_401="set a valid API key for this mode", on_403="it may not read this",
                               session=self.session,
                               sleep=lambda seconds: self.sleep(seconds), clock=lambda: self.clock())

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        """The JSON:API document Lemon Squeezy answers for `GET {api_base}{path}`."""
        return self._http.object(self.api_base, path, params=dict(params or {}),
                                 headers={"Accept": ACCEPT, "Authorization": f"Bearer {self.api_key}"})

    def resource(self, kind: str, resource_id: str) -> Mapping[str, Any]:
        """`GET /v1/{kind}/{id}`: the document's `data` resource."""
        found = self.get(f"/v1/{kind}/{quote(resource_id, safe='')}").get("data")
        if not isinstance(found, dict):
            raise LemonSqueezyApiError(f"Lemon Squeezy's answer for /v1/{kind} has no data")
        return found

    def subscriptions(self, cursor: str | None = None) -> Iterator[tuple[list[Mapping[str, Any]], str | None]]:
        """Every subscription, 100 a page; the cursor is the next page number (None after the last)."""
        page = _page(cursor)
        while True:
            found = self.get("/v1/subscriptions", {"page[number]": page, "page[size]": PAGE_SIZE})
            data, last = found.get("data"), _last_page(found)
            if not isinstance(data, list):
                raise LemonSqueezyApiError("Lemon Squeezy's subscription list has no data")
            more = bool(data) and page < last
            yield [item for item in data if isinstance(item, dict)], (str(page + 1) if more else None)
            if not more:
                return
            page += 1


def enrichment(api: LemonSqueezyApi, event: Event) -> dict[str, Any]:
    """`{"price": …, "store": …}` for a subscription event (the resources, JSON:API `data`); `{}` for others.

    Raises NotFound when the price or store is gone, LemonSqueezyApiError when Lemon Squeezy cannot be asked now
    (both EnrichmentUnavailable: the worker retries a few times, then maps what the event says), ConfigError when
    the key is refused."""
    data = event.payload.get("data")
    if not isinstance(data, Mapping) or data.get("type") != "subscriptions":
        return {}
    found_attributes = data.get("attributes")
    attributes: Mapping[str, Any] = found_attributes if isinstance(found_attributes, Mapping) else {}
    found: dict[str, Any] = {}
    item = attributes.get("first_subscription_item")
    price_id = identifier(item.get("price_id")) if isinstance(item, Mapping) else None
    if price_id:
        found["price"] = api.resource("prices", price_id)
    store_id = identifier(attributes.get("store_id"))
    if store_id:
        found["store"] = api.resource("stores", store_id)
    return found


def _last_page(found: Mapping[str, Any]) -> int:
    meta = found.get("meta")
    page = meta.get("page") if isinstance(meta, Mapping) else None
    last = page.get("lastPage") if isinstance(page, Mapping) else None
    if not isinstance(last, int) or isinstance(last, bool):
        raise LemonSqueezyApiError("Lemon Squeezy's subscription list has no meta.page.lastPage")
    return last


def _page(cursor: str | None) -> int:
    if cursor is None:
        return 1
    if not cursor.isdigit() or int(cursor) < 1:
        raise LemonSqueezyApiError("not a Lemon Squeezy resume cursor (a page number)")
    return int(cursor)
