"""Stripe's list endpoints page by page, within a request budget, with a short retry on rate limits.

The official client retries connection errors and 409/5xx itself (`max_network_retries`), but not a 429
without `Stripe-Should-Retry`; a sync or a catch-up waits and asks again a few times before giving up
(a rerun resumes). Durable retries are not needed: the commands are rerun, not the requests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import stripe

from bridge.errors import BridgeError, ConfigError
from bridge.providers.stripe import versions
from bridge.providers.stripe.enrichment import RateBudget

PAGE_SIZE = 100  # Stripe's largest page
SYNC_API_VERSION = versions.NEWEST_KNOWN  # 2026-11-18.endive
RATE_LIMIT_TRIES = 6
RATE_LIMIT_MAX_WAIT = 30.0


class StripeApiError(BridgeError):
    """Stripe's API could not be used; what was done so far is kept."""


@dataclass(frozen=True)
class Page:
    """One list page as plain dicts, with the time just before it was asked for (unix seconds)."""

    items: list[dict[str, Any]]
    asked_at: float
    has_more: bool


@dataclass
class StripeApi:
    """Budgeted calls to one Stripe account through the official client."""

    client: stripe.StripeClient
    budget: RateBudget
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    requests: int = 0

    def call(self, request: Callable[[], Any]) -> Any:
        """Make one request within the budget, waiting out rate-limit answers."""
        for attempt in range(RATE_LIMIT_TRIES):
            self.budget.take()
            self.requests += 1
            try:
                return request()
            except stripe.RateLimitError:
                if attempt + 1 == RATE_LIMIT_TRIES:
                    raise StripeApiError(
                        "Stripe kept answering 429 (rate limit): lower STRIPE_REQUESTS_PER_SECOND or rerun later"
                    ) from None
                self.sleep(min(2.0 ** attempt, RATE_LIMIT_MAX_WAIT))
            except stripe.AuthenticationError:
                raise ConfigError("Stripe refused STRIPE_API_KEY (401): set a valid (restricted) key") from None
            except stripe.PermissionError:
                raise ConfigError("STRIPE_API_KEY lacks a read permission this command needs (403)") from None
            except stripe.StripeError as exc:
                raise StripeApiError(f"Stripe did not answer: {type(exc).__name__}: {exc.user_message or ''}"
                                     .rstrip(": ")) from None
        raise AssertionError("unreachable")

    def pages(self, list_call: Callable[[dict[str, Any]], Any], params: Mapping[str, Any],
              after: str | None = None) -> Iterator[Page]:
        """Every page of a list endpoint from `starting_after=after`, oldest request first."""
        while True:
            query = {**params, "limit": PAGE_SIZE, **({"starting_after": after} if after else {})}
            asked_at = self.clock()
            found = self.call(partial(list_call, query))
            items = [item.to_dict(for_json=True) for item in found.data]
            yield Page(items, asked_at, bool(found.has_more) and bool(items))
            if not found.has_more or not items:
                return
            after = items[-1]["id"]


def client_for(api_key: str | None, api_base: str) -> stripe.StripeClient:
    """The official client for the commands; they need STRIPE_API_KEY."""
    from bridge.providers.stripe.enrichment import stripe_client

    if not api_key:
        raise ConfigError("STRIPE_API_KEY is not set: the sync and catch-up read Stripe's API "
                          "(a restricted key with read access to Subscriptions, Customers and Events)")
    return stripe_client(api_key, api_base)


def api_version() -> str:
    """The API version the sync asks for: the newest this bridge knows, whatever the official client pins.

    The client would ask for its own pinned version (16.1: `2026-10-28.endive`); a later client may pin a release
    bridge does not know yet. The Events API ignores it: each event comes in its own version's shape (catch-up).
    """
    return SYNC_API_VERSION
