"""The contract subscription end to end: a signed webhook received, enriched from a fake Maxio on loopback over
real HTTP, and read into the model."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import bridge.providers.maxio as maxio
from bridge.errors import ConfigError
from bridge.providers.maxio.api import MaxioApi, enrichment
from bridge.providers.maxio.webhook import sign
from tests.providers.maxio.fake_maxio import FakeMaxio

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = Path(maxio.__file__).parent / "samples"
KEY = "contract_shared_key"


def answers() -> dict[str, Any]:
    def load(name: str) -> Any:
        return json.loads((SAMPLES / name).read_text())

    return {"/subscriptions/71834529.json": load("api_subscription.json"),
            "/subscriptions/71834529/components.json": load("api_components.json"),
            "/components/2299001/price_points/2300045.json": load("api_price_point.json"),
            "/customers/48213377/metadata.json": load("api_metadata.json"),
            "/subscriptions.json": [load("api_subscription.json")]}


def test_contract_created_end_to_end_through_the_api() -> None:
    body = (ROOT / "tests" / "fixtures" / "contract" / "maxio" / "created.form").read_bytes()
    headers = {"x-chargify-webhook-id": "1482205331", "x-chargify-webhook-signature-hmac-sha-256": sign(body, KEY)}
    config = maxio.configure({"MAXIO_WEBHOOK_SECRET": KEY})
    assert config is not None
    event = maxio.webhook(config).receive(body, headers, now=1_900_000_000.0)
    with FakeMaxio("key_abc", answers()) as site:
        site.rate_limited = 1
        facts = maxio.facts(event, enrichment(MaxioApi(site.base, "key_abc", sleep=lambda _: None), event))
    sub = facts.subscription
    assert sub is not None and sub.gaps == ()
    assert (sub.items[0].plan, sub.items[0].amount, sub.items[0].quantity) == ("Pro", Decimal("147.0"), 3)
    assert (facts.identity.account_id, facts.identity.visitor_id) == ("acct-contract", "user-contract")
    assert site.requests[0] == site.requests[1] == "/subscriptions/71834529.json"  # the 429 was retried


def test_sync_lists_through_the_api_and_a_wrong_key_names_the_variable() -> None:
    with FakeMaxio("key_abc", answers()) as site:
        pages = list(MaxioApi(site.base, "key_abc").subscriptions())
        with pytest.raises(ConfigError, match="MAXIO_API_KEY"):
            list(MaxioApi(site.base, "wrong").subscriptions())
    assert len(pages) == 1 and pages[0][1] is None
    sub = maxio.subscription(pages[0][0][0])
    assert sub is not None and sub.items[0].amount == Decimal("147.0")
