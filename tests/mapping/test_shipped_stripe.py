import copy
import json
from pathlib import Path

import pytest

from bridge.mapping import EvalOptions, evaluate, load_mappings
from bridge.mapping.operations import MetadataUpdate, TrackEvent
from bridge.providers import Event

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "stripe"
MAPPINGS = load_mappings(ROOT / "mappings")
CUSTOMER = {"id": "cus_RxT4bV9mQp2LkA", "object": "customer", "email": "ops@acme.example",
            "metadata": {"pendo_visitor_id": "user-42"}}
ENRICHMENT = {"customer": CUSTOMER}
OPTIONS = EvalOptions(date_format="iso", track_enabled=True)


def payload(name):
    return json.loads((FIXTURES / name).read_text())


def stripe_event(body):
    obj = body["data"]["object"]
    customer = obj["id"] if obj.get("object") == "customer" else obj.get("customer")
    return Event(provider="stripe", id=body["id"], type=body["type"], created=float(body["created"]),
                 livemode=body.get("livemode"), api_version=body.get("api_version"),
                 connect_account=body.get("account"), customer_id=customer, payload=body)


def outcome_of(name_or_body, enrichment=ENRICHMENT, options=OPTIONS):
    body = payload(name_or_body) if isinstance(name_or_body, str) else name_or_body
    return evaluate(MAPPINGS, stripe_event(body), enrichment, options)


def accounts(outcome):
    return [op for op in outcome.operations if isinstance(op, MetadataUpdate)]


def tracks(outcome):
    return [(op.event, op.properties) for op in outcome.operations if isinstance(op, TrackEvent)]


# Dates that are no longer true are emptied (sent as null), not left standing (docs/billing.md, "Clearing a field").
NO_DATES = {"trial_end": None, "cancels_at": None, "canceled_at": None}


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("subscription_created_2024-06-20.json", {
            "billing_plan": "pro_monthly", "billing_status": "active", "mrr": 147.0, "billing_currency": "USD",
            "billing_interval": "month", "billing_interval_count": 1, "seats": 3,
            "current_period_end": "2025-02-01T02:53:20.000Z",
            "cancel_at_period_end": False, "collection_paused": False, **NO_DATES}),
        ("subscription_updated_2024-06-20.json", {
            "billing_plan": "business_yearly", "billing_status": "active", "mrr": 204.17,
            "billing_currency": "USD", "billing_interval": "year", "billing_interval_count": 1, "seats": 5,
            "current_period_end": "2025-02-01T02:53:20.000Z", "cancel_at_period_end": False,
            "collection_paused": False, **NO_DATES}),
        ("subscription_deleted_2024-06-20.json", {
            "billing_plan": "business_yearly", "billing_status": "canceled", "mrr": 0.0,
            "billing_currency": "USD", "billing_interval": "year", "billing_interval_count": 1, "seats": 5,
            "current_period_end": "2025-02-01T02:53:20.000Z", "cancel_at_period_end": False,
            "canceled_at": "2025-01-01T04:53:20.000Z", "collection_paused": False, "trial_end": None,
            "cancels_at": None}),
        ("subscription_created_basil.json", {
            "billing_plan": "Team quarterly", "billing_status": "trialing", "mrr": 0.0, "billing_currency": "EUR",
            "billing_interval": "month", "billing_interval_count": 3, "seats": 10,
            "trial_end": "2025-01-15T02:53:20.000Z",
            "current_period_end": "2025-04-02T02:53:20.000Z", "cancel_at_period_end": False,
            "collection_paused": False, "cancels_at": None, "canceled_at": None}),
        ("subscription_updated_basil.json", {
            "billing_plan": "Team quarterly", "billing_status": "active", "mrr": 900.0, "billing_currency": "EUR",
            "billing_interval": "month", "billing_interval_count": 3, "seats": 10, "trial_end": None,
            "current_period_end": "2025-04-02T02:53:20.000Z", "cancel_at_period_end": True,
            "cancels_at": "2025-04-02T02:53:20.000Z", "collection_paused": False, "canceled_at": None}),
        ("invoice_paid_2024-06-20.json", {
            "last_payment_at": "2025-01-01T03:54:10.000Z", "last_payment_amount": 147.0, "delinquent": False}),
        ("invoice_paid_basil.json", {
            "last_payment_at": "2025-01-01T03:54:10.000Z", "last_payment_amount": 12000.0, "delinquent": False}),
        ("invoice_payment_failed_2024-06-20.json", {"delinquent": True}),
        ("invoice_payment_failed_basil.json", {"delinquent": True}),
    ],
)
def test_shipped_stripe_mapping_sets_account_fields(name, values):
    outcome = outcome_of(name)
    (update,) = accounts(outcome)
    assert (update.kind, update.id, update.values) == ("account", "acme-corp", values)
    assert update.source_time == payload(name)["created"] * 1000
    assert outcome.unresolved == [] and outcome.warnings == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("subscription_created_2024-06-20.json",
         [("Subscription Created", {"plan": "pro_monthly", "mrr": 147.0, "currency": "USD", "interval": "month"})]),
        ("subscription_updated_2024-06-20.json",
         [("Subscription Upgraded", {"plan": "business_yearly", "previous_plan": "pro_monthly", "mrr": 204.17,
                                     "previous_mrr": 147.0, "interval": "year", "interval_changed": True})]),
        ("subscription_deleted_2024-06-20.json",
         [("Subscription Canceled", {"plan": "business_yearly", "mrr_lost": 204.17})]),
        ("subscription_created_basil.json",
         [("Subscription Created", {"plan": "Team quarterly", "mrr": 0.0, "currency": "EUR",
                                    "interval": "month"})]),
        ("subscription_updated_basil.json",
         [("Trial Converted", {"plan": "Team quarterly", "mrr": 900.0}),
          ("Subscription Cancellation Scheduled", {"plan": "Team quarterly", "cancels_at": "2025-04-02T02:53:20.000Z",
                                                   "mrr": 900.0})]),
        ("subscription_deleted_basil.json", [("Subscription Canceled", {"plan": "Team quarterly",
                                                                        "mrr_lost": 900.0})]),
        ("invoice_paid_2024-06-20.json",
         [("Invoice Paid", {"amount": 147.0, "currency": "USD", "billing_reason": "subscription_cycle",
                            "invoice_id": "in_1QfZ9a2eZvKYlo2CkqW3"})]),
        ("invoice_paid_basil.json",
         [("Invoice Paid", {"amount": 12000.0, "currency": "JPY", "billing_reason": "subscription_create",
                            "invoice_id": "in_1QgB6a3eZvKYlo2CpaidB"})]),
        ("invoice_payment_failed_2024-06-20.json",
         [("Payment Failed", {"amount": 147.0, "currency": "USD", "attempt_count": 2})]),
        ("invoice_payment_failed_basil.json",
         [("Payment Failed", {"amount": 2.5, "currency": "KWD", "attempt_count": 3})]),
    ],
)
def test_shipped_stripe_mapping_sends_track_events(name, expected):
    outcome = outcome_of(name)
    assert tracks(outcome) == expected
    assert all(op.visitor_id == "user-42" and op.account_id == "acme-corp" and
               op.timestamp == payload(name)["created"] * 1000
               for op in outcome.operations if isinstance(op, TrackEvent))


def test_shipped_stripe_mapping_sends_no_created_track_for_incomplete_subscriptions():
    body = payload("subscription_created_2024-06-20.json")
    body["data"]["object"]["status"] = "incomplete"
    outcome = outcome_of(body)
    assert tracks(outcome) == []
    assert accounts(outcome)[0].values["mrr"] == 0.0


def test_shipped_stripe_mapping_ignores_zero_invoices():
    body = payload("invoice_paid_2024-06-20.json")
    body["data"]["object"]["amount_paid"] = 0
    outcome = outcome_of(body)
    assert outcome.operations == [] and outcome.skipped["invoice-paid"] == "when is false"


def test_shipped_stripe_mapping_falls_back_to_the_event_time_for_last_payment():
    body = payload("invoice_paid_basil.json")
    body["data"]["object"]["status_transitions"]["paid_at"] = None
    assert accounts(outcome_of(body))[0].values["last_payment_at"] == "2025-01-01T03:55:00.000Z"


def test_shipped_stripe_mapping_omits_mrr_for_tiered_prices():
    body = payload("subscription_updated_2024-06-20.json")
    price = body["data"]["object"]["items"]["data"][0]["price"]
    price.update(billing_scheme="tiered", unit_amount=None, unit_amount_decimal=None, tiers_mode="graduated")
    values = accounts(outcome_of(body))[0].values
    assert "mrr" not in values and values["billing_plan"] == "business_yearly"


def test_shipped_stripe_mapping_sends_metadata_but_no_track_without_a_visitor():
    outcome = outcome_of("invoice_payment_failed_basil.json", enrichment={})
    assert [op.values for op in accounts(outcome)] == [{"delinquent": True}]
    assert tracks(outcome) == []
    assert outcome.warnings == ["rule invoice-payment-failed: no visitor id: visitor fields and track event skipped"]


def test_shipped_stripe_mapping_does_not_warn_about_visitors_it_does_not_need():
    body = payload("subscription_updated_basil.json")
    body["data"]["previous_attributes"] = {"metadata": {}}  # a change that implies no track event
    known = {"customer": {"id": CUSTOMER["id"], "object": "customer"}}  # known, with no Pendo ids of its own
    outcome = outcome_of(body, enrichment=known)
    assert accounts(outcome) and outcome.warnings == []


def test_shipped_stripe_mapping_leaves_unknown_accounts_unresolved():
    body = payload("subscription_updated_basil.json")
    body["data"]["object"]["metadata"] = {}
    outcome = outcome_of(body)
    assert outcome.unresolved == ["subscription-fields"] and accounts(outcome) == []


def test_shipped_stripe_mapping_skips_connect_events():
    body = copy.deepcopy(payload("invoice_paid_2024-06-20.json"))
    body["account"] = "acct_1ConnectedXyz"
    outcome = outcome_of(body)
    assert outcome.operations == [] and outcome.skipped["invoice-paid"] == "Connect event"


def test_shipped_stripe_mapping_writes_epoch_ms_dates_when_configured():
    options = EvalOptions(date_format="epoch_ms")
    values = accounts(outcome_of("subscription_deleted_2024-06-20.json", options=options))[0].values
    assert (values["canceled_at"], values["current_period_end"]) == (1735707200000, 1738378400000)
