"""One contract for every provider package: the same subscription, told in each provider's own webhooks,
gives the same Pendo fields and track events through the shipped mappings.

Each registered package ships `tests/fixtures/contract/<name>/`: `created.json` and `canceled.json`, the webhook
bodies its provider sends when a customer subscribes to Pro at $49.00 per seat per month for 3 seats in USD,
then cancels, with the provider's identity slots holding pendo_account_id=acct-contract and
pendo_visitor_id=user-contract; and `env.json`, the variables that configure the package (placeholders).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bridge.mapping import EvalOptions, evaluate, load_mappings
from bridge.mapping.operations import MetadataUpdate, Outcome, TrackEvent
from bridge.providers import Event
from bridge.providers.registry import PACKAGES, find

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "tests" / "fixtures" / "contract"
MAPPINGS = load_mappings(ROOT / "mappings")
OPTIONS = EvalOptions(date_format="iso", track_enabled=True)
ACCOUNT, VISITOR = "acct-contract", "user-contract"

CREATED_FIELDS = {"billing_plan": "Pro", "billing_status": "active", "mrr": 147.0, "billing_currency": "USD",
                  "billing_interval": "month", "seats": 3}
CREATED_TRACK = ("Subscription Created", {"plan": "Pro", "mrr": 147.0, "currency": "USD", "interval": "month"})
CANCELED_FIELDS = {"billing_plan": "Pro", "billing_status": "canceled", "mrr": 0.0, "billing_currency": "USD",
                   "billing_interval": "month", "seats": 3}
CANCELED_TRACK = ("Subscription Canceled", {"plan": "Pro", "mrr_lost": 147.0})


def parse(name: str, found: ModuleType, body: bytes) -> Event:
    """The event a package's webhook parser makes of a verified body."""
    webhook = getattr(found, "webhook", None)
    if callable(webhook):
        env = json.loads((CONTRACT / name / "env.json").read_text())
        return webhook(found.configure(env)).parse(body)
    # A package from before the protocol's `webhook(config)`: Stripe's parser needs no secret to parse.
    from bridge.providers.stripe.webhook import StripeProvider

    return StripeProvider(()).parse(body)


def outcome(name: str, moment: str) -> Outcome:
    found = find(name)
    assert found is not None
    body = (CONTRACT / name / f"{moment}.json").read_bytes()
    known = CONTRACT / name / "enrichment.json"  # what the worker would have looked up, for a package that looks up
    enrichment = json.loads(known.read_text()) if known.exists() else {}
    return evaluate(MAPPINGS, parse(name, found, body), enrichment, OPTIONS)


def account_values(result: Outcome) -> dict[str, Any]:
    updates = [op for op in result.operations if isinstance(op, MetadataUpdate) and op.kind == "account"]
    assert {op.id for op in updates} == {ACCOUNT}
    return {key: value for op in updates for key, value in op.values.items()}


def tracks(result: Outcome) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    return [(op.event, op.visitor_id, op.account_id, dict(op.properties)) for op in result.operations
            if isinstance(op, TrackEvent)]


@pytest.mark.parametrize("name", PACKAGES)
def test_contract_fixtures_exist_for_every_registered_package(name: str) -> None:
    assert {p.name for p in (CONTRACT / name).glob("*.json")} >= {"created.json", "canceled.json", "env.json"}


@pytest.mark.parametrize("name", PACKAGES)
def test_a_new_subscription_gives_the_same_fields_and_event_for_every_provider(name: str) -> None:
    result = outcome(name, "created")
    assert result.unresolved == [] and not [w for w in result.warnings if "mrr" in w]
    values = account_values(result)
    assert {key: values.get(key) for key in CREATED_FIELDS} == CREATED_FIELDS
    event, props = CREATED_TRACK
    assert [(t[0], t[1], t[2], {k: t[3].get(k) for k in props}) for t in tracks(result)] == [
        (event, VISITOR, ACCOUNT, props)]


@pytest.mark.parametrize("name", PACKAGES)
def test_a_cancellation_gives_the_same_fields_and_event_for_every_provider(name: str) -> None:
    result = outcome(name, "canceled")
    values = account_values(result)
    assert {key: values.get(key) for key in CANCELED_FIELDS} == CANCELED_FIELDS
    event, props = CANCELED_TRACK
    assert [(t[0], t[1], t[2], {k: t[3].get(k) for k in props}) for t in tracks(result)] == [
        (event, VISITOR, ACCOUNT, props)]
