"""A provider API's GET with a short in-process retry: the HTTP edge every provider's `api.py` stands on.

A 429, a 500/502/503/504 or no answer at all (connection error, timeout) is retried up to `tries` times, waiting
as `Retry-After` asks (seconds or an HTTP date) or else an exponential backoff, never longer than `max_wait`. This
is the short retry layer; the durable one (the worker's attempts, a rerun of sync) lives elsewhere.

What is not retried is translated once, here:

    ConfigError           401 or 403: the key in `key_variable` is wrong or lacks a permission
    BridgeError
     └── error            the package's own error (worth retrying later): still failing after `tries`, another
         └── not_found    4xx, or an answer that is not usable JSON; 404 when the package has a NotFound

No message quotes the key or the answer's body.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from bridge.errors import BridgeError, ConfigError, PayloadError
from bridge.providers.bodies import load_object, read_json

RETRIED = frozenset({429, 500, 502, 503, 504})
TRIES = 5
MAX_WAIT = 60.0  # seconds; rate limits per minute reset within it
TIMEOUT = 30.0  # seconds, connect and read
Timeout = float | tuple[float, float]  # seconds; or (connect, read)


@dataclass
class ApiClient:
    """GETs against one provider's API, retried briefly; errors name the setting to fix, never the key."""

    name: str  # the provider as messages name it: "Recurly", "Lemon Squeezy"
    key_variable: str  # the setting a 401 or 403 asks to fix
    error: type[BridgeError]
    not_found: type[BridgeError] | None = None  # a 404 raises this when given, else `error`
    on_401: str = "set a valid API key"
    on_403: str = "give it the permission this needs"
    detail: Callable[[requests.Response], str] = lambda response: ""  # e.g. " (error_code)" from an error body
    session: requests.Session = field(default_factory=requests.Session, repr=False)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    timeout: Timeout = TIMEOUT
    tries: int = TRIES
    max_wait: float = MAX_WAIT
    first_wait: float = 1.0  # the backoff doubles from here when no Retry-After is given
    calls: int = 0  # requests made, retries included
    pace: Callable[[], None] = lambda: None  # waits until the next request may go (a `RequestBudget`'s `take`)

    def answer(self, base: str, path: str, **request: Any) -> requests.Response:
        """The first answer to `GET {base}{path}` that is not retried, once it is a success (below 400)."""
        response: requests.Response | None = None
        for attempt in range(self.tries):
            self.pace()
            self.calls += 1
            response = self._send(base + path, request)
            if response is not None and response.status_code not in RETRIED:
                return self._accept(response, path)
            if attempt + 1 < self.tries:
                self.sleep(self.wait(response, attempt))
        status = "no answer" if response is None else f"HTTP {response.status_code}"
        raise self.error(f"{self.name}'s API kept failing ({status}) for GET {path} after {self.tries} tries")

    def json(self, base: str, path: str, **request: Any) -> Any:
        """The answer's JSON, read strictly (`bodies.read_json`)."""
        try:
            return read_json(self.answer(base, path, **request).content)
        except PayloadError as exc:
            raise self.error(f"{self.name}'s answer to GET {path} is not usable JSON ({exc})") from None

    def object(self, base: str, path: str, **request: Any) -> dict[str, Any]:
        """The answer's JSON object, read strictly (`bodies.load_object`)."""
        try:
            return load_object(self.answer(base, path, **request).content)
        except PayloadError as exc:
            raise self.error(f"{self.name}'s answer to GET {path} is not usable JSON, or not a JSON object "
                             f"({exc})") from None

    def wait(self, response: requests.Response | None, attempt: int) -> float:
        """Seconds before try `attempt + 2`: Retry-After when given, else the backoff; at most `max_wait`."""
        after = retry_after(response.headers.get("Retry-After"), self.clock()) if response is not None else None
        return min(after if after is not None else self.first_wait * 2.0 ** attempt, self.max_wait)

    def _send(self, url: str, request: Mapping[str, Any]) -> requests.Response | None:
        try:
            return self.session.get(url, timeout=self.timeout, **request)
        except requests.RequestException:
            return None

    def _accept(self, response: requests.Response, path: str) -> requests.Response:
        status = response.status_code
        if status == 401:
            raise ConfigError(f"{self.name} refused {self.key_variable} (401): {self.on_401}")
        if status == 403:
            raise ConfigError(f"{self.name} refused {self.key_variable} for GET {path} (403): {self.on_403}")
        if status == 404 and self.not_found is not None:
            raise self.not_found(f"{self.name} has nothing at GET {path} (404)")
        if status >= 400:
            raise self.error(f"{self.name}'s API answered HTTP {status}{self.detail(response)} to GET {path}")
        return response


def retry_after(value: str | None, now: float) -> float | None:
    """`Retry-After` as seconds to wait (a number of seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.replace(".", "", 1).isdigit():
        return float(text)
    try:
        return max(0.0, parsedate_to_datetime(text).timestamp() - now)
    except (TypeError, ValueError, IndexError):
        return None


def error_code(response: requests.Response, *keys: str) -> str:
    """` (code)` from an error answer's JSON at `keys` (e.g. "error", "code"), or "" when it has none to show."""
    try:
        found: Any = read_json(response.content)
    except PayloadError:
        return ""
    for key in keys:
        found = found.get(key) if isinstance(found, dict) else None
    if not isinstance(found, str) or not found.isprintable() or not 0 < len(found) < 100:
        return ""
    return f" ({found})"
