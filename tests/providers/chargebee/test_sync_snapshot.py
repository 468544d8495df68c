"""`bridge sync chargebee`: a listed subscription stored as an event in its webhooks' shape, read by `facts` as a
webhook is, and never sent to Chargebee's event re-fetch (it came from the API itself)."""

from __future__ import annotations

import json
from decimal import Decimal

from bridge.providers import chargebee
from bridge.providers.chargebee.api import ChargebeeApi
from tests.providers.deliveries import fixture


def listed() -> dict[str, object]:
    """A `GET /subscriptions` entry as the list client yields it: the subscription with its customer attached."""
    content = json.loads(fixture("chargebee", "created"))["content"]
    return {**content["subscription"], "customer": content["customer"]}


def test_a_listed_subscription_becomes_an_event_facts_reads_as_a_webhook() -> None:
    api = ChargebeeApi("https://acme.chargebee.com/api/v2", "key")
    snapshot = api.snapshot(listed(), "run1", 1_900_000_000.5)
    event = snapshot.event
    assert (event.provider, event.id, event.type, event.created) == (
        "chargebee", f"sync_run1_{listed()['id']}", "subscription.synced", 1_900_000_000.0)
    assert event.payload["bridge_sync"] is True and event.customer_id == listed()["customer_id"]
    facts = chargebee.facts(event, {})
    assert facts.subscription is not None and facts.subscription.mrr == Decimal("147.00")
    assert (facts.identity.account_id, facts.identity.visitor_id) == ("acct-contract", "user-contract")


def test_a_sync_snapshot_is_not_re_fetched() -> None:
    class Unasked:
        def event(self, event_id: str) -> dict[str, object]:
            raise AssertionError("a sync's snapshot must not be asked about")

    event = ChargebeeApi("https://acme.chargebee.com/api/v2", "key").snapshot(listed(), "run1", 1.0).event
    assert chargebee.enrichment(Unasked(), event) == {}  # type: ignore[arg-type]
