"""Paddle's list-subscriptions endpoint, page by page, for `bridge sync paddle`.

`GET /subscriptions` pages with `after` (the last id seen) and `per_page` (at most 200), ordered by id so a
cursor resumes where a run stopped (developer.paddle.com/api-reference/subscriptions/list-subscriptions).
Authentication is `Authorization: Bearer <API key>`. Paddle answers 429 with `Retry-After` in seconds when an
IP address makes more than 240 requests a minute (developer.paddle.com/api-reference/about/rate-limiting);
429 and 5xx are retried a few times in-process, waiting as asked; a rerun resumes from the cursor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from bridge.errors import BridgeError, ConfigError

PAGE_SIZE = 200  # Paddle's largest page
TIMEOUT = (5.0, 30.0)  # connect, read
TRIES = 5
MAX_WAIT = 120.0  # seconds; Paddle's rate limit locks an address out for 60 s
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class PaddleApiError(BridgeError):
    """Paddle's API could not be used; the pages read so far are kept and a rerun resumes."""


@dataclass
class PaddleApi:
    """A small client of Paddle's API with one bearer key; implements `SubscriptionSource`."""

    api_key: str
    base: str
    session: requests.Session = field(default_factory=requests.Session)
    sleep: Callable[[float], None] = time.sleep

    def subscriptions(self, cursor: str | None = None) -> Iterator[tuple[list[Mapping[str, Any]], str | None]]:
        """Every subscription, a page at a time, with the cursor to resume after it (None after the last)."""
        after = cursor
        while True:
            params = {"per_page": str(PAGE_SIZE), "order_by": "id[ASC]", **({"after": after} if after else {})}
            body = self.get("/subscriptions", params)
            page = [item for item in body.get("data") or [] if isinstance(item, Mapping)]
            pagination = body.get("meta", {}).get("pagination", {}) if isinstance(body.get("meta"), Mapping) else {}
            last = page[-1].get("id") if page else None
            more = bool(pagination.get("has_more")) and isinstance(last, str) and last != after
            yield page, last if more else None
            if not more:
                return
            after = last

    def get(self, path: str, params: Mapping[str, str]) -> Mapping[str, Any]:
        """One GET, retried on 429/5xx and network errors; errors name what to fix, never the key."""
        for attempt in range(1, TRIES + 1):
            try:
                response = self.session.get(self.base + path, params=params, timeout=TIMEOUT, headers={
                    "Authorization": f"Bearer {self.api_key}", "Accept": "application/json"})
            except requests.RequestException as exc:
                if attempt == TRIES:
                    raise PaddleApiError(f"Paddle's API did not answer ({type(exc).__name__}); rerun later") from None
                self.sleep(_backoff(attempt))
                continue
            if response.status_code in RETRY_STATUSES and attempt < TRIES:
                self.sleep(_wait(response.headers.get("Retry-After"), attempt))
                continue
            return _body(response)
        raise AssertionError("unreachable")


def _body(response: requests.Response) -> Mapping[str, Any]:
    status = response.status_code
    if status == 401:
        raise ConfigError("Paddle refused PADDLE_API_KEY (401): set a valid API key for this account "
                          "(a sandbox key only works with the sandbox PADDLE_API_BASE)")
    if status == 403:
        raise ConfigError("PADDLE_API_KEY lacks the subscription.read permission (403)")
    if status == 429:
        raise PaddleApiError("Paddle kept answering 429 (rate limit): rerun later")
    if status >= 400:
        raise PaddleApiError(f"Paddle's API answered {status}{_code(response)}")
    try:
        body = response.json()
    except ValueError:
        raise PaddleApiError("Paddle's API answered with something that is not JSON") from None
    if not isinstance(body, Mapping):
        raise PaddleApiError("Paddle's API answered with JSON that is not an object")
    return body


def _code(response: requests.Response) -> str:
    """Paddle's error code (`error.code`), when the answer has one."""
    try:
        code = response.json().get("error", {}).get("code")
    except (ValueError, AttributeError):
        return ""
    return f" ({code})" if isinstance(code, str) and code.isprintable() and len(code) < 100 else ""


def _wait(retry_after: str | None, attempt: int) -> float:
    """Retry-After in seconds when Paddle gives it (capped), else an exponential backoff."""
    try:
        seconds = float(retry_after) if retry_after is not None else None
    except ValueError:
        seconds = None
    if seconds is None or not 0 <= seconds < float("inf"):
        return _backoff(attempt)
    return min(seconds, MAX_WAIT)


def _backoff(attempt: int) -> float:
    return float(min(2 ** attempt, MAX_WAIT))
