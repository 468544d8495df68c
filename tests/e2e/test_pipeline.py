"""Signed Stripe events through the real web and worker processes into a fake Pendo."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
import requests
import stripe
from sqlalchemy import create_engine, text

from bridge.settings import normalise_database_url
from tests.e2e.harness import Service, stripe_event, wait_until
from tests.e2e.payloads import BASIL, PRE_BASIL, customer, invoice, subscription
from tests.fakes.pendo import FakePendo


def stored_events(service: Service) -> list[tuple[str, str]]:
    engine = create_engine(normalise_database_url(service.env["DATABASE_URL"]))
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text("select event_id, status from events"))]
    finally:
        engine.dispose()


@pytest.mark.parametrize("shape", [PRE_BASIL, BASIL])
def test_subscription_created_sets_fields_and_tracks(service: Service, pendo: FakePendo, shape: str) -> None:
    known = stripe_event("customer.created", customer(), api_version=shape, created=int(time.time()) - 10)
    assert service.post(known).status_code == 200
    event = stripe_event("customer.subscription.created", subscription(shape=shape), api_version=shape)
    answer = service.post(event)
    assert answer.status_code == 200
    assert answer.json() == {"received": True, "event_id": event["id"], "duplicate": False}
    values = wait_until(lambda: pendo.account_values("acme").get("mrr") is not None and pendo.account_values("acme"))
    assert values["billing_plan"] == "pro_monthly"
    assert values["billing_status"] == "active"
    assert values["mrr"] == 98.0
    assert values["billing_currency"] == "USD"
    assert values["billing_interval"] == "month"
    assert values["seats"] == 2
    assert values["cancel_at_period_end"] is False
    assert values["current_period_end"].startswith("2026-02-01T00:00:00")
    [track] = wait_until(pendo.track_events)
    assert track["event"] == "Subscription Created"
    assert track["visitorId"] == "owner@acme.example" and track["accountId"] == "acme"
    assert track["timestamp"] == event["created"] * 1000
    assert track["properties"] == {"plan": "pro_monthly", "mrr": 98.0, "currency": "USD", "interval": "month"}


@pytest.mark.parametrize("shape", [PRE_BASIL, BASIL])
def test_invoice_paid_and_payment_failed(service: Service, pendo: FakePendo, shape: str) -> None:
    failed = stripe_event("invoice.payment_failed", invoice(shape=shape, paid=False), api_version=shape,
                          created=int(time.time()) - 60)
    paid = stripe_event("invoice.paid", invoice(shape=shape), api_version=shape)
    assert service.post(failed).status_code == 200
    wait_until(lambda: pendo.account_values("acme").get("delinquent") is True)
    assert service.post(paid).status_code == 200
    wait_until(lambda: pendo.account_values("acme").get("delinquent") is False)
    values = pendo.account_values("acme")
    assert values["last_payment_amount"] == 98.0
    assert values["last_payment_at"].startswith("2026-01-01T00:01:40")
    tracks = wait_until(lambda: len(pendo.track_events()) == 2 and pendo.track_events())
    by_name = {t["event"]: t for t in tracks}
    assert by_name["Payment Failed"]["properties"] == {"amount": 98.0, "currency": "USD", "attempt_count": 2}
    assert by_name["Invoice Paid"]["properties"] == {
        "amount": 98.0, "currency": "USD", "billing_reason": "subscription_cycle", "invoice_id": "in_1"}


def _bad_requests(service: Service) -> dict[str, requests.Response]:
    event = stripe_event("customer.subscription.created", subscription())
    body = json.dumps(event).encode()
    now = int(time.time())
    url = f"{service.url}/webhooks/stripe"
    return {
        "missing signature": requests.post(url, data=body, timeout=10),
        "wrong secret": service.post(event, secret="whsec_not_ours"),
        "stale": service.post(event, timestamp=now - 400),  # well outside 300 s, however slow the machine
        "future": service.post(event, timestamp=int(time.time()) + 400),
        "malformed header": service.post(event, header="t=abc,v1=zz"),
        "not json": service.post(b"{not json"),
        "not an event": service.post(b'{"id": "ch_1", "object": "charge"}'),
        "oversized": service.post(b'{"id": "evt_big", "pad": "' + b"x" * (1024 * 1024) + b'"}'),
    }


def test_bad_requests_are_refused_stored_nowhere_and_reach_nothing(service: Service, pendo: FakePendo) -> None:
    answers = _bad_requests(service)
    codes = {name: answer.status_code for name, answer in answers.items()}
    assert codes == {name: 413 if name == "oversized" else 400 for name in answers}
    assert all("error" in answer.json() for answer in answers.values())
    assert stored_events(service) == []
    time.sleep(1)
    assert pendo.metadata_rows("account") == [] and pendo.track_events() == []
    logs = service.log_text()
    assert "whsec_" not in logs and "v1=" not in logs


def test_test_mode_event_ignored_under_live_mode(service: Service, pendo: FakePendo) -> None:
    event = stripe_event("customer.subscription.created", subscription(), livemode=False)
    assert service.post(event).status_code == 200
    live = stripe_event("customer.subscription.created", subscription(account="live-co"))
    assert service.post(live).status_code == 200
    wait_until(lambda: pendo.account_values("live-co"))
    assert pendo.account_values("acme") == {}
    assert dict(stored_events(service))[event["id"]] == "ignored"


def test_secret_roll_two_secrets_two_signatures(service_factory: Callable[..., Service], pendo: FakePendo) -> None:
    service = service_factory(STRIPE_WEBHOOK_SECRET="whsec_new_one,whsec_old_one")
    event = stripe_event("customer.subscription.created", subscription())
    body = json.dumps(event)
    now = int(time.time())
    old = stripe.WebhookSignature.generate_signature_header(body, "whsec_old_one", timestamp=now)
    new = stripe.WebhookSignature.generate_signature_header(body, "whsec_elsewhere", timestamp=now)
    header = f"{new},{old.split(',')[1]}"
    assert service.post(body.encode(), header=header).status_code == 200
    wait_until(lambda: pendo.account_values("acme"))


def test_same_event_three_times_reaches_pendo_once(service: Service, pendo: FakePendo) -> None:
    event = stripe_event("customer.subscription.created", subscription())
    answers = [service.post(event).json()["duplicate"] for _ in range(3)]
    assert answers == [False, True, True]
    wait_until(pendo.track_events)
    time.sleep(1.5)
    assert len(pendo.track_events()) == 1
    assert len(pendo.metadata_rows("account")) == 1


def test_older_event_after_newer_does_not_overwrite(service: Service, pendo: FakePendo) -> None:
    now = int(time.time())
    newer = stripe_event("customer.subscription.updated", subscription(status="past_due"), created=now)
    older = stripe_event("customer.subscription.updated", subscription(status="active", quantity=5),
                         created=now - 30)
    assert service.post(newer).status_code == 200
    wait_until(lambda: pendo.account_values("acme").get("billing_status") == "past_due")
    assert service.post(older).status_code == 200
    time.sleep(1.5)
    values = pendo.account_values("acme")
    assert values["billing_status"] == "past_due" and values["seats"] == 2
