"""Bodies that are valid JSON but built to hurt the parser, through the real web process."""

from __future__ import annotations

import json

import pytest

from tests.e2e.harness import Service, stripe_event

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("shape", ["bare", "inside an event"])
def test_web_deeply_nested_json_is_400(service: Service, shape: str) -> None:
    depth = 100_000
    nested = "[" * depth + "]" * depth
    if shape == "bare":
        body = nested.encode()
    else:
        text = json.dumps(stripe_event("invoice.paid", {"object": "invoice", "lines": "HOLE"}))
        body = text.replace('"HOLE"', nested).encode()
    answer = service.post(body)
    assert answer.status_code == 400
    assert set(answer.json()) == {"error"}
    assert service.post(stripe_event("invoice.paid", {"object": "invoice"})).status_code == 200
    assert "RecursionError" not in service.log_text()
