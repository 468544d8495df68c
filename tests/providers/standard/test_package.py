"""The Standard Webhooks package: its settings, its module-level interface and its facts (identity only)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

import bridge.providers.standard as standard
from bridge.billing.model import Facts, Identity
from bridge.errors import ConfigError
from bridge.providers.standard.webhook import sign

SAMPLES = Path(standard.__file__).parent / "samples"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the official test vector's secret


def test_package_exposes_the_protocol_names() -> None:
    assert standard.NAME == "standard"
    assert standard.VARIABLES == ("STANDARD_WEBHOOK_SECRET",)
    for name in ("configure", "webhook", "facts", "subscription", "source"):
        assert callable(getattr(standard, name))


def test_configure_is_none_without_a_secret() -> None:
    assert standard.configure({}) is None
    assert standard.configure({"STANDARD_WEBHOOK_SECRET": " , "}) is None


def test_configure_strips_the_prefix_and_decodes() -> None:
    with_prefix = standard.configure({"STANDARD_WEBHOOK_SECRET": SECRET})
    without = standard.configure({"STANDARD_WEBHOOK_SECRET": SECRET.removeprefix("whsec_")})
    assert with_prefix is not None and with_prefix == without
    assert with_prefix.keys[0] == base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")


def test_configure_reads_a_comma_separated_list_in_order() -> None:
    config = standard.configure({"STANDARD_WEBHOOK_SECRET": f"whsec_c2Vjb25k, {SECRET}"})
    assert config is not None and len(config.keys) == 2 and config.keys[0] == b"second"


def test_configure_accepts_unpadded_base64() -> None:
    config = standard.configure({"STANDARD_WEBHOOK_SECRET": "whsec_YWJjZA"})  # "abcd" without "=="
    assert config is not None and config.keys == (b"abcd",)


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_", "whsec_abcde", "whsec_YW=Jj", "polar_whs_x-y"])
def test_configure_refuses_a_secret_that_does_not_decode_naming_the_variable(secret: str) -> None:
    with pytest.raises(ConfigError) as refused:
        standard.configure({"STANDARD_WEBHOOK_SECRET": f"{SECRET},{secret}"})
    assert "STANDARD_WEBHOOK_SECRET" in str(refused.value)
    assert secret.removeprefix("whsec_") not in str(refused.value) or not secret.removeprefix("whsec_")


def test_config_repr_hides_the_keys() -> None:
    config = standard.configure({"STANDARD_WEBHOOK_SECRET": SECRET})
    assert "keys" not in repr(config) and "MfKQ" not in repr(config)


def test_webhook_round_trip_on_the_sample() -> None:
    config = standard.configure({"STANDARD_WEBHOOK_SECRET": SECRET})
    assert config is not None
    provider = standard.webhook(config)
    body = (SAMPLES / "contact.created.json").read_bytes()
    headers = {"webhook-id": "msg_2Kx", "webhook-timestamp": "1793737570",
               "webhook-signature": sign(config.keys[0], "msg_2Kx", 1793737570, body)}
    event = provider.receive(body, headers, now=1793737600)
    assert (event.id, event.type, event.created) == ("msg_2Kx", "contact.created", pytest.approx(1793737570.344522))
    assert standard.facts(event, {}) == Facts(identity=Identity(account_id="acct-42", visitor_id="user-42"))


def test_facts_is_empty_identity_without_metadata() -> None:
    provider = standard.webhook(standard.configure({"STANDARD_WEBHOOK_SECRET": SECRET}))  # type: ignore[arg-type]
    body = json.dumps({"type": "ping", "timestamp": "2026-11-03T20:26:10Z", "data": {"metadata": {
        "pendo_account_id": "", "pendo_visitor_id": 17}}}).encode()
    key = standard.configure({"STANDARD_WEBHOOK_SECRET": SECRET}).keys[0]  # type: ignore[union-attr]
    event = provider.parse(body, {"webhook-id": "m", "webhook-timestamp": "1", "webhook-signature":
                                  sign(key, "m", 1, body)})
    facts = standard.facts(event, {})
    assert facts == Facts(identity=Identity(account_id=None, visitor_id="17"))
    assert facts.subscription is None and facts.payment is None and facts.customer is None


def test_no_subscription_and_no_source() -> None:
    config = standard.configure({"STANDARD_WEBHOOK_SECRET": SECRET})
    assert standard.subscription({"id": "sub_1", "status": "active"}) is None
    assert standard.source(config) is None  # type: ignore[arg-type]
