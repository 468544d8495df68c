"""Lemon Squeezy's API (JSON:API, bearer key), read-only: a subscription's price and store, and every subscription.

A subscription carries its price's id and its quantity but no amount, interval or currency. `enrich(api, event)` is
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
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import requests

from bridge.errors import BridgeError, ConfigError, PayloadError
from bridge.providers import Event
from bridge.providers.bodies import load_object
from bridge.providers.lemonsqueezy.config import API, API_KEY_VARIABLE

ACCEPT = "application/vnd.api+json"
PAGE_SIZE = 100  # Lemon Squeezy's largest page[size]
TRIES = 5
MAX_WAIT = 60.0
TIMEOUT = 30.0
RETRIED = frozenset({429, 500, 502, 503, 504})


class LemonSqueezyApiError(BridgeError):
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

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        """The JSON:API document Lemon Squeezy answers for `GET {api_base}{path}`."""
        response: requests.Response | None = None
        for attempt in range(TRIES):
            response = self._send(path, params)
            if response is not None and response.status_code not in RETRIED:
                return _answer(response, path)
            if attempt + 1 < TRIES:
                self.sleep(self._wait(response, attempt))
        status = "no answer" if response is None else f"HTTP {response.status_code}"
        raise LemonSqueezyApiError(f"Lemon Squeezy's API kept failing ({status}) for GET {path} after {TRIES} tries")

    def _send(self, path: str, params: Mapping[str, Any] | None) -> requests.Response | None:
        try:
            return self.session.get(self.api_base + path, params=dict(params or {}), timeout=TIMEOUT,
                                    headers={"Accept": ACCEPT, "Authorization": f"Bearer {self.api_key}"})
        except requests.RequestException:
            return None

    def _wait(self, response: requests.Response | None, attempt: int) -> float:
        backoff = min(2.0 ** attempt, MAX_WAIT)
        after = retry_after(response.headers.get("Retry-After"), self.clock()) if response is not None else None
        return min(after, MAX_WAIT) if after is not None else backoff

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


def enrich(api: LemonSqueezyApi, event: Event) -> dict[str, Any]:
    """`{"price": …, "store": …}` for a subscription event (the resources, JSON:API `data`); `{}` for others.

    Raises NotFound when the price or store is gone (do not retry), LemonSqueezyApiError when Lemon Squeezy cannot
    be asked now (retry later), ConfigError when the key is refused."""
    data = event.payload.get("data")
    if not isinstance(data, Mapping) or data.get("type") != "subscriptions":
        return {}
    found_attributes = data.get("attributes")
    attributes: Mapping[str, Any] = found_attributes if isinstance(found_attributes, Mapping) else {}
    found: dict[str, Any] = {}
    item = attributes.get("first_subscription_item")
    price_id = _id(item.get("price_id")) if isinstance(item, Mapping) else None
    if price_id:
        found["price"] = api.resource("prices", price_id)
    store_id = _id(attributes.get("store_id"))
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


def _id(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value else None


def _answer(response: requests.Response, path: str) -> Mapping[str, Any]:
    if response.status_code == 401:
        raise ConfigError(f"Lemon Squeezy refused {API_KEY_VARIABLE} (401): set a valid API key for this mode")
    if response.status_code == 403:
        raise ConfigError(f"{API_KEY_VARIABLE} may not read GET {path} (403)")
    if response.status_code == 404:
        raise NotFound(f"Lemon Squeezy has nothing at GET {path} (404)")
    if response.status_code >= 400:
        raise LemonSqueezyApiError(f"Lemon Squeezy answered HTTP {response.status_code} to GET {path}")
    try:
        return load_object(response.content)
    except PayloadError as exc:
        raise LemonSqueezyApiError(f"Lemon Squeezy's answer to GET {path} is not a JSON object: {exc}") from None


def retry_after(value: str | None, now: float) -> float | None:
    """`Retry-After` as seconds to wait (a number of seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        return max(0.0, parsedate_to_datetime(text).timestamp() - now)
    except (TypeError, ValueError, IndexError):
        return None
