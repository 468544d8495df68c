"""Stripe-Signature headers bent by an attacker who captured an old, validly signed request."""

from __future__ import annotations

import json
import time

import pytest
import stripe

from tests.conftest import SECRET
from tests.e2e.harness import Service, stripe_event

pytestmark = pytest.mark.e2e

TEN_DAYS = 10 * 86400


def captured(body: bytes, timestamp: int) -> str:
    """The v1 signature of a request Stripe sent at `timestamp`, as an eavesdropper saw it."""
    return stripe.WebhookSignature._compute_signature(f"{timestamp}.{body.decode()}", SECRET)


def test_web_replay_with_a_fresh_timestamp_added_is_refused(service: Service) -> None:
    old, now = int(time.time()) - TEN_DAYS, int(time.time())
    body = json.dumps(stripe_event("invoice.paid", {"object": "invoice"}, created=old, event_id="evt_replayed"))
    signature = captured(body.encode(), old)
    for header in (f"v1={signature}, t={now},t={old}", f"t={now},t={old},v1={signature}",
                   f"t={now}, v1={signature}, t={old}", f"t={old},v1={signature},t={now}",
                   f"v1={signature},t={now}", f"t={now},v1={signature}"):
        answer = service.post(body.encode(), header=header)
        assert answer.status_code == 400, header
        assert signature not in answer.text and SECRET not in answer.text
    fresh = service.post(body.encode())  # correctly signed now: the replayed copy was never stored
    assert fresh.status_code == 200 and fresh.json()["duplicate"] is False
    text = service.log_text()
    assert signature not in text and SECRET not in text


def test_web_genuine_signature_with_spaces_and_a_rolled_secret_is_accepted(service: Service) -> None:
    now = int(time.time())
    body = json.dumps(stripe_event("invoice.paid", {"object": "invoice"})).encode()
    other = stripe.WebhookSignature._compute_signature(f"{now}.{body.decode()}", "whsec_rolled_away")
    ours = captured(body, now)
    answer = service.post(body, header=f"t={now}, v1={other}, v1={ours}, v0=abc")
    assert answer.status_code == 200
