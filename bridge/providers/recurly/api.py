"""Recurly's API v3 (version 2021-02-25), read-only: what a light JSON webhook leaves out, and every subscription.

`enrichment(api, event)` is what the worker calls before mapping a Recurly event: for a subscription event it fetches
the subscription (`GET /subscriptions/{id}`, or `uuid-{uuid}` when the webhook gives the UUID), its account
(`GET /accounts/{id}`: the identity slots live in its custom fields) and its plan (`GET /plans/{id}`: the billing
interval is the plan's, not the subscription's); for a payment event the transaction (`GET /transactions/{id}`),
for a charge invoice event the invoice (`GET /invoices/{id}`), each with the first subscription it charged as
above (or the invoice's account); for an account event the account.

Authentication is HTTP Basic with the private API key as the username and no password; every request names the
API version in `Accept: application/vnd.recurly.v2021-02-25`. A 429 or 5xx is retried a few times, honouring
`Retry-After`. Errors: `RecurlyApiError` is worth retrying later (Recurly unreachable, rate limited, 5xx);
`NotFound` (404) is not, nor is a `ConfigError` (401/403: the key is wrong or lacks a permission).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from bridge.errors import EnrichmentUnavailable
from bridge.providers import Event
from bridge.providers.http import TRIES as TRIES
from bridge.providers.http import ApiClient
from bridge.providers.http import retry_after as retry_after
from bridge.providers.recurly.config import API_KEY_VARIABLE

ACCEPT = "application/vnd.recurly.v2021-02-25"
PAGE_SIZE = 200  # Recurly's largest `limit`


class RecurlyApiError(EnrichmentUnavailable):
    """Recurly's API could not be used right now: worth retrying later."""


class NotFound(RecurlyApiError):
    """Recurly answered 404: the object is not on this site (retrying will not help)."""


@dataclass
class RecurlyApi:
    """Read-only calls to one Recurly site, with a short in-process retry."""

    api_key: str = field(repr=False)
    api_base: str = "https://v3.recurly.com"
    session: requests.Session = field(default_factory=requests.Session, repr=False)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self._http = ApiClient("Recurly", API_KEY_VARIABLE, RecurlyApiError, NotFound,
                               on_401="set a valid private API key for this site",
                               on_403="it lacks a permission, or RECURLY_API_BASE is the wrong region",
                               session=self.session,
                               sleep=lambda seconds: self.sleep(seconds), clock=lambda: self.clock())

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        """The JSON object Recurly answers for `GET {api_base}{path}`."""
        return self._http.object(self.api_base, path, params=dict(params or {}), auth=(self.api_key, ""),
                                 headers={"Accept": ACCEPT})

    def subscription(self, reference: str) -> Mapping[str, Any]:
        """`GET /subscriptions/{id}` (an id, or `uuid-{uuid}`)."""
        return self.get(f"/subscriptions/{quote(reference, safe='')}")

    def account(self, account_id: str) -> Mapping[str, Any]:
        """`GET /accounts/{id}`."""
        return self.get(f"/accounts/{quote(account_id, safe='')}")

    def plan(self, plan_id: str) -> Mapping[str, Any]:
        """`GET /plans/{id}`."""
        return self.get(f"/plans/{quote(plan_id, safe='')}")

    def transaction(self, reference: str) -> Mapping[str, Any]:
        """`GET /transactions/{id}` (an id, or `uuid-{uuid}`)."""
        return self.get(f"/transactions/{quote(reference, safe='')}")

    def invoice(self, invoice_id: str) -> Mapping[str, Any]:
        """`GET /invoices/{id}`."""
        return self.get(f"/invoices/{quote(invoice_id, safe='')}")

    def subscriptions(self, cursor: str | None = None) -> Iterator[tuple[list[Mapping[str, Any]], str | None]]:
        """Every subscription, 200 a page, oldest first; the cursor is Recurly's `next` path (None after the last)."""
        path, params = (_next_path(cursor), None) if cursor else (
            "/subscriptions", {"limit": PAGE_SIZE, "sort": "created_at", "order": "asc"})
        while True:
            found = self.get(path, params)
            data = found.get("data")
            if not isinstance(data, list):
                raise RecurlyApiError("Recurly's subscription list has no data")
            following = found.get("next")
            cursor = following if found.get("has_more") is True and isinstance(following, str) and following \
                else None
            yield [item for item in data if isinstance(item, dict)], cursor
            if cursor is None:
                return
            path, params = _next_path(cursor), None


def enrichment(api: RecurlyApi, event: Event) -> dict[str, Any]:
    """What `facts` reads beyond the light webhook: `subscription`, `customer` (its account: `account` is the core's
    roll-up), `plan`, `transaction`, `invoice`.

    Raises NotFound when Recurly no longer has the object, RecurlyApiError when Recurly cannot be asked now (both
    EnrichmentUnavailable: the worker retries a few times, then maps what the event says), ConfigError when the key
    is refused."""
    payload = event.payload
    object_type = payload.get("object_type")
    if object_type == "subscription":
        return _subscription_bundle(api, api.subscription(_reference(payload)))
    if object_type == "payment":
        transaction = api.transaction(_reference(payload))
        first = _first(transaction.get("subscription_ids"))
        bundle = _subscription_bundle(api, api.subscription(first)) if first else {}
        return {**bundle, "transaction": transaction}
    if object_type == "charge_invoice":
        invoice = api.invoice(str(payload["id"]))  # invoices are fetched by id or number, not by UUID
        first = _first(invoice.get("subscription_ids"))
        account_id = _id_of(invoice.get("account"))
        bundle = _subscription_bundle(api, api.subscription(first)) if first else \
            ({"customer": api.account(account_id)} if account_id else {})
        return {**bundle, "invoice": invoice}
    if object_type == "account":
        code = payload.get("account_code")
        return {"customer": api.account(f"code-{code}" if isinstance(code, str) and code else str(payload["id"]))}
    return {}


def _subscription_bundle(api: RecurlyApi, subscription: Mapping[str, Any]) -> dict[str, Any]:
    bundle: dict[str, Any] = {"subscription": subscription}
    account_id = _id_of(subscription.get("account"))
    if account_id:
        bundle["customer"] = api.account(account_id)
    plan_id = _id_of(subscription.get("plan"))
    if plan_id:
        bundle["plan"] = api.plan(plan_id)
    return bundle


def _reference(payload: Mapping[str, Any]) -> str:
    """How to fetch the webhook's object: by UUID when the webhook gives one, else by its id."""
    uuid = payload.get("uuid")
    return f"uuid-{uuid}" if isinstance(uuid, str) and uuid else str(payload["id"])


def _first(ids: object) -> str | None:
    return ids[0] if isinstance(ids, list) and ids and isinstance(ids[0], str) and ids[0] else None


def _id_of(value: object) -> str | None:
    found = value.get("id") if isinstance(value, Mapping) else None
    return found if isinstance(found, str) and found else None


def _next_path(cursor: str) -> str:
    """A `next` link as a path on the configured API address; RecurlyApiError when it is not a subscription list."""
    parts = urlsplit(cursor)
    if parts.scheme or parts.netloc or not parts.path == "/subscriptions":
        raise RecurlyApiError("not a Recurly resume cursor (a /subscriptions?… path)")
    return cursor
