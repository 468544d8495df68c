"""Ingest through the real web process: an event the store cannot hold fails alone, and ingest goes on."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.conftest import SECRET
from tests.e2e.harness import Service, stripe_event
from tests.e2e.payloads import subscription

pytestmark = pytest.mark.e2e


def innocent(n: int) -> dict[str, Any]:
    return stripe_event("customer.subscription.created", subscription(account=f"ok-{n}", sub_id=f"sub_ok_{n}"))


def poison_bodies() -> dict[str, bytes]:
    """Signed-able bodies of events whose values no store column can hold, each a JSON text."""
    now = int(time.time())
    event = stripe_event("customer.subscription.created", subscription(account="bad"), created=now)
    cases: dict[str, Any] = {
        "surrogate id": {**event, "id": "evt_\ud800"},
        "304-character id": {**event, "id": "evt_" + "x" * 300},
        "NUL in id": {**event, "id": "evt_\u0000x"},
        "newline in id": {**event, "id": "evt_a\nb"},
        "surrogate type": {**event, "type": "customer.\udfff"},
        "300-character type": {**event, "type": "t" * 300},
        "created NaN": {**event, "created": math.nan},
        "created Infinity": {**event, "created": math.inf},
        "created in year 30000": {**event, "created": 884_541_340_800},
        "negative created": {**event, "created": -1},
        "70-character api_version": {**event, "api_version": "2025-03-31." + "b" * 59},
        "300-character connect account": {**event, "account": "acct_" + "a" * 295},
        "300-character customer": {**event, "data": {"object": {**event["data"]["object"], "customer": "c" * 300}}},
    }
    return {name: json.dumps(body).encode() for name, body in cases.items()}  # NaN/Infinity: as Python writes them


def test_web_lone_surrogate_event_id_fails_alone_and_later_webhooks_are_answered(service: Service) -> None:
    body = json.dumps(stripe_event("invoice.paid", {"object": "invoice"}, event_id="evt_\ud800")).encode()
    assert b"\\ud800" in body  # the id travels as a JSON escape, as a sender would write it
    answer = service.post(body)
    assert answer.status_code == 400
    for n in range(3):
        assert service.post(innocent(n)).status_code == 200  # not a hang: the harness posts with a 10 s timeout
    assert requests.get(f"{service.url}/readyz", timeout=5).status_code == 200
    assert "Traceback" not in service.log_text()


def test_web_poison_events_are_400_and_their_concurrent_neighbours_are_stored(
        start_service: Callable[..., Service], any_database: str) -> None:
    service = start_service(any_database)
    poisons = poison_bodies()
    posts: list[tuple[str, bytes | dict[str, Any]]] = [(f"innocent {n}", innocent(n)) for n in range(60)]
    for index, (name, body) in enumerate(poisons.items()):
        posts.insert(index * 5 + 3, (name, body))

    def post(item: tuple[str, bytes | dict[str, Any]]) -> tuple[str, int]:
        return item[0], service.post(item[1]).status_code

    with ThreadPoolExecutor(16) as pool:
        answers = dict(pool.map(post, posts))
    assert {name: status for name, status in answers.items() if name in poisons} == dict.fromkeys(poisons, 400)
    assert sorted(status for name, status in answers.items() if name not in poisons) == [200] * 60
    text = service.log_text()
    assert "Traceback" not in text and SECRET not in text
