"""The Chargebee package against a fake Chargebee on loopback: real HTTP, the package's own entry points."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bridge.errors import ConfigError
from bridge.providers import chargebee
from bridge.providers.chargebee.api import EventNotConfirmed
from bridge.providers.chargebee.webhook import authorization
from tests.providers.chargebee.fake_chargebee import FakeChargebee

SAMPLES = Path(__file__).resolve().parents[3] / "bridge" / "providers" / "chargebee" / "samples"
KEY = "test_readonly_key"


def entries(count: int) -> list[dict[str, Any]]:
    sample = json.loads((SAMPLES / "subscription_created.json").read_text())["content"]
    found = []
    for number in range(count):
        subscription = {**sample["subscription"], "id": f"sub_{number}", "customer_id": f"cus_{number}"}
        customer = {**sample["customer"], "id": f"cus_{number}", "cf_pendo_account_id": f"acct-{number}"}
        found.append({"subscription": subscription, "customer": customer})
    return found


def configured(base: str, key: str = KEY) -> Any:
    return chargebee.configure({"CHARGEBEE_WEBHOOK_USERNAME": "hooks", "CHARGEBEE_WEBHOOK_PASSWORD": "pw",
                                "CHARGEBEE_API_KEY": key, "CHARGEBEE_API_BASE": base})


def test_chargebee_sync_pages_every_subscription_over_http() -> None:
    with FakeChargebee(KEY, entries(230), {}) as fake:
        source = chargebee.source(configured(fake.base))
        assert source is not None
        pages = list(source.subscriptions())
    assert [len(page) for page, _ in pages] == [100, 100, 30]
    assert [cursor for _, cursor in pages] == ["100", "200", None]
    first = pages[0][0][0]
    model = chargebee.subscription(first)
    assert model is not None and model.id == "sub_0" and model.mrr == Decimal("147.00")
    assert first["customer"]["cf_pendo_account_id"] == "acct-0"


def test_chargebee_webhook_then_refetch_then_facts_over_http() -> None:
    body = (SAMPLES / "subscription_created.json").read_bytes()
    genuine = json.loads(body)
    genuine["content"]["subscription"]["status"] = "non_renewing"  # Chargebee's copy is newer than the body
    with FakeChargebee(KEY, [], {genuine["id"]: genuine}) as fake:
        config = configured(fake.base)
        provider = chargebee.webhook(config)
        provider.verify(body, {"authorization": authorization("hooks", "pw")}, now=0.0)
        event = provider.parse(body)
        fake.rate_limited = 1
        source = chargebee.source(config)
        assert source is not None
        waits: list[float] = []
        source.sleep = waits.append
        enrichment = chargebee.enrichment(source, event)
    assert waits[0] == 1.0  # the fake's Retry-After; the pause was asked of a fake sleep, so no time passed and
    assert len(waits) == 2 and 0 < waits[1] <= 1.0  # the budget (1 a second by default) paces the next try too
    found = chargebee.facts(event, enrichment)
    assert found.subscription is not None and found.subscription.cancel_at_period_end is True
    assert fake.requests == [f"/api/v2/events/{genuine['id']}"] * 2  # one 429, then the answer


def test_chargebee_refetch_of_a_forged_event_is_refused_over_http() -> None:
    forged = (SAMPLES / "payment_succeeded.json").read_bytes()
    with FakeChargebee(KEY, [], {}) as fake:
        config = configured(fake.base)
        event = chargebee.webhook(config).parse(forged)
        source = chargebee.source(config)
        assert source is not None
        with pytest.raises(EventNotConfirmed):
            chargebee.enrichment(source, event)


def test_chargebee_wrong_api_key_is_a_config_error_over_http() -> None:
    with FakeChargebee(KEY, entries(1), {}) as fake:
        source = chargebee.source(configured(fake.base, key="test_wrong"))
        with pytest.raises(ConfigError, match="CHARGEBEE_API_KEY"):
            list(source.subscriptions())  # type: ignore[union-attr]
