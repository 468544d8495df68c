"""Stripe Connect: a connected account's events are keyed by it, resolved through it, and looked up as it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import responses
import stripe
from responses import matchers
from sqlalchemy import select

from bridge.billing.model import Identity
from bridge.mapping.identity import resolve
from bridge.providers import Event, registry
from bridge.settings import load_settings
from bridge.store import links
from bridge.store.db import make_engine, migrate
from bridge.store.schema import events
from bridge.store.store import Store
from bridge.web.app import create_app
from bridge.worker import enrichment
from tests.conftest import make_settings, stripe_config
from tests.e2e.harness import stripe_event

API_BASE = "http://stripe.test"
SECRET = "whsec_connect_platform"


def _signed(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET, timestamp=int(time.time()))
    return body, {"Stripe-Signature": header, "Content-Type": "application/json"}


def test_a_connected_accounts_events_are_keyed_by_it(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'bridge.db'}", providers={
        "stripe": stripe_config(webhook_secrets=(SECRET,)), "stripe/eu": stripe_config(webhook_secrets=(SECRET,))})
    migrate(settings)
    client = create_app(settings).test_client()
    subscription = {"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active"}
    for path, account in (("stripe", "acct_A"), ("stripe", "acct_B"), ("stripe", None), ("stripe/eu", "acct_A")):
        extra = {"account": account} if account else {}
        body, headers = _signed({**stripe_event("customer.subscription.updated", subscription,
                                                event_id="evt_same"), **extra})
        answer = client.post(f"/webhooks/{path}", data=body, headers=headers)
        assert answer.status_code == 200 and answer.get_json()["duplicate"] is False, (path, account)
    body, headers = _signed({**stripe_event("customer.subscription.updated", subscription), "account": "a" * 60})
    assert client.post("/webhooks/stripe", data=body, headers=headers).status_code == 400
    with make_engine(settings).connect() as connection:
        keys = sorted(connection.execute(select(events.c.provider)).scalars())
    assert keys == ["stripe", "stripe/eu:acct_A", "stripe:acct_A", "stripe:acct_B"]
    assert registry.split("stripe/eu:acct_A") == ("stripe", "eu")
    assert (registry.platform("stripe/eu:acct_A"), registry.connected("stripe/eu:acct_A")) == ("stripe/eu", "acct_A")
    assert registry.connected("stripe/eu") is None


def test_a_connected_account_resolves_through_its_own_link_or_the_fallback(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'bridge.db'}")
    migrate(settings)
    engine = make_engine(settings)
    of = Event("stripe:acct_A", "evt_1", "invoice.paid", 1.0, True, None, "acct_A", "cus_1", {})
    with engine.begin() as connection:
        assert links.linked_account_of(connection, of) is None
        links.save(connection, "stripe", "acct_A", "tenant-a", "import", 1.0)  # the platform's link of the account
        assert links.linked_account_of(connection, of) == "tenant-a"
        links.save(connection, "stripe:acct_A", "cus_1", "acme", "import", 1.0)  # its customer's own link wins
        assert links.linked_account_of(connection, of) == "acme"
        platform_own = Event("stripe", "evt_2", "invoice.paid", 1.0, True, None, None, "acct_A", {})
        assert links.linked_account_of(connection, platform_own) == "tenant-a"
    slots = Identity(customer_id="cus_1")
    fallback = resolve(slots, None, account_fallback="connect_account", visitor_fallback="skip",
                       synthetic_prefix="", connect_account="acct_A")
    assert (fallback["account_id"], fallback["account_source"]) == ("acct_A", "fallback")
    assert resolve(slots, None, account_fallback="connect_account", visitor_fallback="skip",
                   synthetic_prefix="")["account_id"] is None  # the platform's own events have no account
    assert load_settings({"STRIPE_WEBHOOK_SECRET": "whsec_a",
                          "BRIDGE_ACCOUNT_FALLBACK": "connect_account"}).account_fallback == "connect_account"


@responses.activate
def test_a_connected_accounts_look_ups_carry_its_stripe_account_header(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'bridge.db'}")
    migrate(settings)
    store = Store(make_engine(settings))
    connected = {"id": "cus_1", "object": "customer", "email": "a@tenant.example", "metadata": {}}
    platform = {"id": "cus_1", "object": "customer", "email": "platform@example.com", "metadata": {}}
    responses.get(f"{API_BASE}/v1/customers/cus_1", json=connected,
                  match=[matchers.header_matcher({"Stripe-Account": "acct_A"})])
    responses.get(f"{API_BASE}/v1/customers/cus_1", json=platform)
    configs = {"stripe": stripe_config(api_key="sk_test_connect", api_base=API_BASE)}
    enrichers = enrichment.online(store, configs, lambda: 1_700_000_000.0)
    obj = {"id": "in_1", "object": "invoice", "customer": "cus_1"}
    of_a = Event("stripe:acct_A", "evt_1", "invoice.paid", 1.0, True, None, "acct_A", "cus_1",
                 {"data": {"object": obj}})
    own = Event("stripe", "evt_2", "invoice.paid", 1.0, True, None, None, "cus_1", {"data": {"object": obj}})
    assert enrichers.enrich(of_a)["customer"]["email"] == "a@tenant.example"
    assert enrichers.enrich(own)["customer"]["email"] == "platform@example.com"
    assert "Stripe-Account" not in responses.calls[1].request.headers
    assert store.cached_object("stripe:acct_A", "cus_1")[0]["email"] == "a@tenant.example"  # type: ignore[index]
    assert store.cached_object("stripe", "cus_1")[0]["email"] == "platform@example.com"  # type: ignore[index]


@pytest.mark.parametrize("provider_key", ["stripe:acct_A", "stripe/eu:acct_A"])
def test_mappings_see_the_connected_account_and_the_source(provider_key: str) -> None:
    from bridge.mapping.evaluate import EvalOptions, context_variables

    event = Event(provider_key, "evt_1", "invoice.paid", 1.0, True, None, "acct_A", "cus_1",
                  {"id": "evt_1", "data": {"object": {"id": "in_1"}}})
    found = context_variables(event, {}, EvalOptions())
    assert (found["provider"], found["source"], found["connect_account"]) == (
        "stripe", registry.split(provider_key)[1], "acct_A")


def test_a_connected_accounts_enricher_made_during_a_claim_caches_only_while_it_holds(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'bridge.db'}")
    migrate(settings)
    store = Store(make_engine(settings))
    enrichers = enrichment.cached(store)
    customer = {"id": "cus_1", "object": "customer", "email": "a@tenant.example"}
    event = Event("stripe:acct_A", "evt_1", "customer.updated", 1.0, True, None, "acct_A", "cus_1",
                  {"data": {"object": customer}})
    with enrichers.claimed(404, "worker-that-holds-nothing"):  # no such event row: the claim is not held
        enrichers.remember(event)
    assert store.cached_object("stripe:acct_A", "cus_1") is None
    enrichers.remember(event)  # outside a claim, as `bridge replay` does
    assert store.cached_object("stripe:acct_A", "cus_1") is not None


def test_links_of_a_chunk_are_read_at_once_as_one_by_one(database_url: str) -> None:
    settings = make_settings(database_url)
    migrate(settings)
    engine = make_engine(settings)
    events = [
        Event("stripe:acct_A", "evt_1", "invoice.paid", 1.0, True, None, "acct_A", "cus_1", {}),  # its own link
        Event("stripe:acct_A", "evt_2", "invoice.paid", 1.0, True, None, "acct_A", "cus_2", {}),  # the platform's
        Event("stripe:acct_B", "evt_3", "invoice.paid", 1.0, True, None, "acct_B", "cus_3", {}),  # none at all
        Event("stripe", "evt_4", "invoice.paid", 1.0, True, None, None, "cus_4", {}),
        Event("stripe", "evt_5", "invoice.paid", 1.0, True, None, None, None, {}),  # no customer
        Event("stripe/eu", "evt_6", "invoice.paid", 1.0, True, None, None, "cus_4", {}),  # another source
    ]
    with engine.begin() as connection:
        links.save(connection, "stripe", "acct_A", "tenant-a", "import", 1.0)
        links.save(connection, "stripe:acct_A", "cus_1", "acme", "import", 1.0)
        links.save(connection, "stripe", "cus_4", "globex", "import", 1.0)
        links.save(connection, "stripe/eu", "cus_4", "initech", "import", 1.0)
        one_by_one = [links.linked_account_of(connection, event) for event in events]
        assert one_by_one == ["acme", "tenant-a", None, "globex", None, "initech"]
        assert links.linked_accounts_of(connection, events) == one_by_one
