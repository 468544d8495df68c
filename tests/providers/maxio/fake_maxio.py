"""A fake Maxio site on loopback, serving fixed JSON answers by path; end-to-end tests can reuse it.

It checks the API key the way Maxio does (HTTP Basic, the key as user name, `x` as password) and answers 401
otherwise, 404 for a path it has no answer for, and 429 with `Retry-After: 0` for the first `rate_limited`
requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.provider_api import FakeProviderApi, basic


class FakeMaxio(FakeProviderApi):
    """Serves `answers` (path → JSON) until closed; records the paths asked."""

    def __init__(self, api_key: str, answers: dict[str, Any]):
        super().__init__(basic(api_key, "x"), unauthorized={"errors": ["HTTP Basic: Access denied."]},
                         too_many={"errors": ["rate limited"]}, retry_after="0")
        self.answers = answers

    def route(self, path: str, headers: Mapping[str, str]) -> tuple[int, Any]:
        found = urlsplit(path).path
        return (200, self.answers[found]) if found in self.answers else (404, {"errors": ["not found"]})
