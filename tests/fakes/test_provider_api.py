from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from tests.fakes.provider_api import FakeProviderApi, basic, bearer


class FakeEcho(FakeProviderApi):
    base_path = "/api"

    def __init__(self) -> None:
        super().__init__(bearer("key_1"), too_many={"error": "slow down"}, retry_after="3")

    def route(self, path: str, headers: Mapping[str, str]) -> tuple[int, Any]:
        return (200, {"path": path, "accept": headers.get("accept")}) if path.startswith("/api/") else (404, {})


def test_fake_provider_api_checks_the_key_rate_limits_on_demand_and_routes() -> None:
    with FakeEcho() as fake:
        assert fake.base.startswith("http://127.0.0.1:") and fake.base.endswith("/api")
        refused = requests.get(f"{fake.base}/x", headers={"Authorization": "Bearer wrong"}, timeout=5)
        assert (refused.status_code, refused.json()) == (401, {"error": "unauthorized"})
        fake.rate_limited = 1
        limited = requests.get(f"{fake.base}/x", headers={"Authorization": "Bearer key_1"}, timeout=5)
        assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")
        assert limited.json() == {"error": "slow down"}
        found = requests.get(f"{fake.base}/x?n=1", headers={"Authorization": "Bearer key_1", "Accept": "text/x"},
                             timeout=5)
        assert (found.status_code, found.json()) == (200, {"path": "/api/x?n=1", "accept": "text/x"})
        assert found.headers["Content-Type"] == "application/json"
    assert fake.requests == ["/api/x", "/api/x", "/api/x?n=1"]


def test_authorization_headers() -> None:
    assert basic("key", "") == "Basic a2V5Og=="
    assert basic("key", "x") == "Basic a2V5Ong="
    assert bearer("tok") == "Bearer tok"
