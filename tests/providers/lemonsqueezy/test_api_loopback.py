"""The Lemon Squeezy package against a fake Lemon Squeezy on loopback: a signed webhook, enriched over real HTTP."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

import bridge.providers.lemonsqueezy as lemonsqueezy
from bridge.errors import ConfigError
from bridge.providers.lemonsqueezy.config import LemonSqueezyConfig
from bridge.providers.lemonsqueezy.webhook import sign
from tests.providers.lemonsqueezy.fake_lemonsqueezy import FakeLemonSqueezy

ROOT = Path(__file__).resolve().parents[3]
CONTRACT = ROOT / "tests" / "fixtures" / "contract" / "lemonsqueezy"
SAMPLES = Path(lemonsqueezy.__file__).parent / "samples"
KEY = "fake-lemon-key"
SECRET = "loopback-secret"


def configured(base: str, key: str = KEY) -> LemonSqueezyConfig:
    config = lemonsqueezy.configure({"LEMONSQUEEZY_WEBHOOK_SECRET": SECRET, "LEMONSQUEEZY_API_KEY": key,
                                     "LEMONSQUEEZY_API_BASE": base})
    assert config is not None
    return config


def fake(key: str = KEY, subscriptions: int = 0) -> FakeLemonSqueezy:
    resources = [json.loads((SAMPLES / f"{name}.json").read_text()) for name in ("api.price", "api.store")]
    template = json.loads((SAMPLES / "subscription_created.json").read_text())["data"]
    resources += [{**template, "id": str(200000 + number)} for number in range(subscriptions)]
    return FakeLemonSqueezy(key, resources)


def test_a_contract_webhook_is_enriched_over_http_and_read() -> None:
    body = (CONTRACT / "created.json").read_bytes()
    with fake() as server:
        config = configured(server.base)
        event = lemonsqueezy.webhook(config).receive(body, {"x-signature": sign(body, SECRET)}, now=0.0)
        api = lemonsqueezy.source(config)
        assert api is not None
        facts = lemonsqueezy.facts(event, lemonsqueezy.enrichment(api, event))
    assert server.requests == ["/v1/prices/108000", "/v1/stores/41000"]
    assert facts.subscription is not None
    assert (facts.subscription.items[0].amount, facts.subscription.currency) == (Decimal("147.00"), "USD")


def test_sync_pages_every_subscription_over_http() -> None:
    with fake(subscriptions=250) as server:
        api = lemonsqueezy.source(configured(server.base))
        assert api is not None
        pages = list(api.subscriptions())
    assert [(len(items), cursor) for items, cursor in pages] == [(100, "2"), (100, "3"), (50, None)]
    assert lemonsqueezy.subscription(pages[0][0][0]) is not None


def test_a_wrong_key_stops_with_a_config_error() -> None:
    with fake(key="the-right-key") as server:
        api = lemonsqueezy.source(configured(server.base, key="a-wrong-key"))
        assert api is not None
        with pytest.raises(ConfigError, match="LEMONSQUEEZY_API_KEY"):
            next(api.subscriptions())
