"""Braintree's own SDK (PyPI `braintree`, a test dependency) as an oracle: its signed samples pass our verifier,
our reading of them agrees with its parser, and what it accepts and refuses we accept and refuse."""

from __future__ import annotations

import base64
from datetime import UTC
from pathlib import Path
from urllib.parse import urlencode

import braintree as sdk
import pytest

import bridge.providers.braintree as braintree
from bridge.errors import SignatureError
from bridge.providers.braintree.webhook import BraintreeProvider, sign

PUBLIC, PRIVATE = "oracle_public_key", "oracle_private_key"
GATEWAY = sdk.BraintreeGateway(sdk.Configuration(environment=sdk.Environment.Sandbox, merchant_id="oracle_merchant",
                                                 public_key=PUBLIC, private_key=PRIVATE))
OURS = BraintreeProvider(PUBLIC, PRIVATE)
KINDS = [sdk.WebhookNotification.Kind.SubscriptionChargedSuccessfully,
         sdk.WebhookNotification.Kind.SubscriptionChargedUnsuccessfully,
         sdk.WebhookNotification.Kind.SubscriptionWentActive, sdk.WebhookNotification.Kind.SubscriptionWentPastDue,
         sdk.WebhookNotification.Kind.SubscriptionCanceled, sdk.WebhookNotification.Kind.SubscriptionExpired,
         sdk.WebhookNotification.Kind.SubscriptionTrialEnded, sdk.WebhookNotification.Kind.DisputeOpened,
         sdk.WebhookNotification.Kind.TransactionSettled, sdk.WebhookNotification.Kind.Check]


def _form(sample: dict[str, object]) -> bytes:
    payload = sample["bt_payload"]
    text = payload.decode() if isinstance(payload, bytes) else str(payload)
    return urlencode({"bt_signature": sample["bt_signature"], "bt_payload": text}).encode()


@pytest.mark.parametrize("kind", KINDS)
def test_sdk_samples_verify_and_parse_alike(kind: str) -> None:
    sample = GATEWAY.webhook_testing.sample_notification(kind, "sub_or_dispute_1")
    theirs = GATEWAY.webhook_notification.parse(sample["bt_signature"], sample["bt_payload"])
    event = OURS.receive(_form(sample), {}, now=0.0)
    assert event.type == theirs.kind == kind
    assert event.created == theirs.timestamp.replace(tzinfo=UTC).timestamp()  # the SDK's time is naive UTC
    if kind.startswith("subscription"):
        assert event.id.split(":")[1] == theirs.subscription.id == "sub_or_dispute_1"


def test_sdk_charged_successfully_gives_a_paid_payment() -> None:
    sample = GATEWAY.webhook_testing.sample_notification(
        sdk.WebhookNotification.Kind.SubscriptionChargedSuccessfully, "sub_1")
    facts = braintree.facts(OURS.receive(_form(sample), {}, now=0.0), {})
    theirs = GATEWAY.webhook_notification.parse(sample["bt_signature"], sample["bt_payload"])
    assert facts.payment is not None and facts.payment.kind == "paid"
    assert facts.payment.amount == theirs.subscription.transactions[0].amount
    assert facts.payment.subscription_id == "sub_1"


def test_sdk_accepts_what_we_sign() -> None:
    xml = (Path(braintree.__file__).parent / "samples" / "subscription_charged_successfully.xml").read_text()
    text = base64.encodebytes(xml.encode()).decode()
    theirs = GATEWAY.webhook_notification.parse(f"{PUBLIC}|{sign(PRIVATE, text)}", text)
    assert theirs.kind == "subscription_charged_successfully" and theirs.subscription.id == "sub_7hq2kd"


def test_sdk_and_we_refuse_a_modified_payload() -> None:
    sample = GATEWAY.webhook_testing.sample_notification(sdk.WebhookNotification.Kind.SubscriptionCanceled, "s")
    modified = dict(sample, bt_payload=b"QQ==\n" + sample["bt_payload"])
    with pytest.raises(sdk.exceptions.InvalidSignatureError):
        GATEWAY.webhook_notification.parse(modified["bt_signature"], modified["bt_payload"])
    with pytest.raises(SignatureError):
        OURS.verify(_form(modified), {}, now=0.0)


@pytest.mark.parametrize("challenge", ["20f9f8ed05f77439fe955c977e4c8a53", "0123456789abcdef0123", "f" * 32])
def test_challenge_answers_as_the_sdk_does(challenge: str) -> None:
    assert OURS.challenge(challenge) == GATEWAY.webhook_notification.verify(challenge)
