"""One contract for every provider package: the same subscription, told in each provider's own webhooks,
gives the same Pendo fields and track events through the shipped mappings.

Each registered package with subscriptions ships `tests/fixtures/contract/<name>/`: `created` and `canceled` (and
`created-1-seat`), the webhook bodies its provider sends (`.json`, or `.form` for form-encoded providers) when a
customer subscribes to Pro at $49.00 per seat per month for 3 seats in USD, then cancels, with the provider's
identity slots holding pendo_account_id=acct-contract and pendo_visitor_id=user-contract. Where the package reads
more than the webhook from its API, `enrichment/<moment>.json` holds what the API answered. Each body is signed as
its provider signs it (tests/providers/deliveries.py) and received as the web layer receives it.

What a provider cannot give is stated here, in `GAPS`, per provider and field, with the reason; every other value
must match exactly. docs/providers/README.md carries the same table.
"""

from __future__ import annotations

from typing import Any

import pytest

from bridge.mapping import EvalOptions, evaluate, load_mappings
from bridge.mapping.operations import MetadataUpdate, Outcome, TrackEvent
from bridge.providers.registry import PACKAGES, find
from bridge.web.app import _received
from tests.providers.deliveries import CONTRACT, SENDERS, fixture, has_fixtures, recorded_enrichment

ROOT = CONTRACT.parents[2]
MAPPINGS = load_mappings(ROOT / "mappings")
OPTIONS = EvalOptions(date_format="iso", track_enabled=True)
ACCOUNT, VISITOR = "acct-contract", "user-contract"
NOW = 1_900_000_000.0  # when each fixture is signed and received

CREATED_FIELDS = {"billing_plan": "Pro", "billing_status": "active", "mrr": 147.0, "billing_currency": "USD",
                  "billing_interval": "month", "seats": 3}
CREATED_TRACK = ("Subscription Created", {"plan": "Pro", "mrr": 147.0, "currency": "USD", "interval": "month"})
CANCELED_FIELDS = {"billing_plan": "Pro", "billing_status": "canceled", "mrr": 0.0, "billing_currency": "USD",
                   "billing_interval": "month", "seats": 3}
CANCELED_TRACK = ("Subscription Canceled", {"plan": "Pro", "mrr_lost": 147.0})

# What a provider cannot give, per provider: {provider: {field: (the value it gives instead, why)}}. A field here is
# asserted to be exactly that value (None: withheld, not sent); a field not here must equal the contract's.
GAPS: dict[str, dict[str, tuple[Any, str]]] = {
    "chargebee": {
        "billing_plan": ("Pro-USD-Monthly", "subscriptions name the item price id, not the item's display name"),
        "plan": ("Pro-USD-Monthly", "the same: the track event's plan is the item price id"),
    },
}

CONTRACTED = [name for name in PACKAGES if has_fixtures(name)]


def expected(name: str, contract: dict[str, Any]) -> dict[str, Any]:
    """The contract's values with the provider's stated gaps in place."""
    gaps = GAPS.get(name, {})
    return {key: gaps[key][0] if key in gaps else value for key, value in contract.items()}


def outcome(name: str, moment: str) -> Outcome:
    package = find(name)
    assert package is not None
    config = package.configure(SENDERS[name].env)
    body = fixture(name, moment)
    event = _received(package.webhook(config), body, SENDERS[name].headers(body, NOW), NOW)
    return evaluate(MAPPINGS, event, recorded_enrichment(name, moment, body), OPTIONS)


def account_values(result: Outcome) -> dict[str, Any]:
    updates = [op for op in result.operations if isinstance(op, MetadataUpdate) and op.kind == "account"]
    assert {op.id for op in updates} == {ACCOUNT}
    return {key: value for op in updates for key, value in op.values.items()}


def tracks(result: Outcome) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    return [(op.event, op.visitor_id, op.account_id, dict(op.properties)) for op in result.operations
            if isinstance(op, TrackEvent)]


def test_every_package_with_subscriptions_is_in_the_contract() -> None:
    # Standard Webhooks carries no subscription semantics (docs/providers/standard.md): its rules are the admin's.
    assert set(PACKAGES) - set(CONTRACTED) == {"standard"}
    assert set(GAPS) <= set(CONTRACTED)


@pytest.mark.parametrize("name", CONTRACTED)
def test_contract_fixtures_exist(name: str) -> None:
    for moment in ("created", "canceled"):
        assert fixture(name, moment)


@pytest.mark.parametrize("name", CONTRACTED)
def test_a_new_subscription_gives_the_same_fields_and_event_for_every_provider(name: str) -> None:
    result = outcome(name, "created")
    assert result.unresolved == [] and not [w for w in result.warnings if "mrr" in w]
    values = account_values(result)
    assert {key: values.get(key) for key in CREATED_FIELDS} == expected(name, CREATED_FIELDS)
    event, props = CREATED_TRACK
    assert [(t[0], t[1], t[2], {k: t[3].get(k) for k in props}) for t in tracks(result)] == [
        (event, VISITOR, ACCOUNT, expected(name, props))]


@pytest.mark.parametrize("name", CONTRACTED)
def test_a_cancellation_gives_the_same_fields_and_event_for_every_provider(name: str) -> None:
    result = outcome(name, "canceled")
    values = account_values(result)
    assert {key: values.get(key) for key in CANCELED_FIELDS} == expected(name, CANCELED_FIELDS)
    event, props = CANCELED_TRACK
    assert [(t[0], t[1], t[2], {k: t[3].get(k) for k in props}) for t in tracks(result)] == [
        (event, VISITOR, ACCOUNT, expected(name, props))]
