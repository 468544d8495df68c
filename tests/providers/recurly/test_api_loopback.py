"""The Recurly package against a fake Recurly on loopback: a signed light webhook, enriched over real HTTP."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import bridge.providers.recurly as recurly
from bridge.errors import ConfigError
from bridge.providers.recurly.webhook import sign
from tests.providers.recurly.fake_recurly import FakeRecurly

ROOT = Path(__file__).resolve().parents[3]
CONTRACT = ROOT / "tests" / "fixtures" / "contract" / "recurly"
KEY = "fake-private-key"
SECRET = "f" * 64


def configured(base: str, key: str = KEY) -> Any:
    return recurly.configure({"RECURLY_WEBHOOK_SECRET": SECRET, "RECURLY_API_KEY": key, "RECURLY_API_BASE": base})


def fake(key: str = KEY) -> FakeRecurly:
    bundle = json.loads((CONTRACT / "enrichment" / "created.json").read_text())
    listed = [{**bundle["subscription"], "id": f"s{number}", "uuid": f"u{number}"} for number in range(450)]
    return FakeRecurly(key, [bundle["subscription"], *listed], [bundle["customer"]], [bundle["plan"]])


def test_a_contract_webhook_is_enriched_over_http_and_read() -> None:
    body = (CONTRACT / "created.json").read_bytes()
    timestamp_ms = 1_738_577_703_000
    with fake() as server:
        config = configured(server.base)
        event = recurly.webhook(config).receive(body, {"recurly-signature": f"{timestamp_ms},"
                                                       f"{sign(body, timestamp_ms, SECRET)}"}, timestamp_ms / 1000)
        api = recurly.source(config)
        assert api is not None
        facts = recurly.facts(event, recurly.enrichment(api, event))
    assert server.requests == ["/subscriptions/uuid-0c0a1b2c3d4e5f60718293a4b5c6d7e8", "/accounts/afake0acct01",
                               "/plans/pfake0plan01"]
    assert facts.subscription is not None and facts.subscription.items[0].amount == Decimal("147.00")
    assert facts.identity.account_id == "acct-contract"


def test_sync_pages_every_subscription_over_http() -> None:
    with fake() as server:
        api = recurly.source(configured(server.base))
        assert api is not None
        pages = list(api.subscriptions())
    assert [len(items) for items, _ in pages] == [200, 200, 51]
    assert pages[-1][1] is None and pages[0][1] == "/subscriptions?cursor=200&limit=200"


def test_a_wrong_key_stops_with_a_config_error() -> None:
    with fake(key="the-right-key") as server:
        api = recurly.source(configured(server.base, key="a-wrong-key"))
        assert api is not None
        with pytest.raises(ConfigError, match="RECURLY_API_KEY"):
            next(api.subscriptions())
