"""Masking personal data in the payloads the console shows."""

from __future__ import annotations

import pytest

from bridge.settings import DEFAULT_REDACT_FIELDS, load_settings
from bridge.web.admin.redaction import MASK, redact

CUSTOMER = {
    "id": "cus_1", "object": "customer", "email": "jane@example.com", "name": "Jane Doe", "phone": "+1 555 0100",
    "address": {"line1": "1 Main St", "city": "Springfield", "country": "US"},
    "shipping": None, "metadata": {"pendo_account_id": "acme"}, "description": "",
    "invoice_settings": {"default_payment_method": None},
}


def test_redaction_default_masks_personal_data_and_keeps_the_rest() -> None:
    shown = redact({"data": {"object": CUSTOMER}}, DEFAULT_REDACT_FIELDS)["data"]["object"]
    assert shown["email"] == shown["name"] == shown["phone"] == shown["address"] == MASK
    assert shown["shipping"] is None  # empty: nothing to hide
    assert shown["metadata"] == {"pendo_account_id": "acme"} and shown["id"] == "cus_1"


@pytest.mark.parametrize(("patterns", "key", "masked"), [
    (("email",), "email", True), (("email",), "EMAIL", True), (("email",), "customer_email", False),
    (("*_email",), "customer_email", True), (("*email*",), "receipt_email_sent", True),
    (("tax_id*",), "tax_ids", True), (("name",), "nickname", False), ((), "email", False),
])
def test_redaction_patterns(patterns: tuple[str, ...], key: str, masked: bool) -> None:
    assert (redact({key: "x"}, patterns)[key] == MASK) is masked


def test_redaction_reaches_into_lists_and_never_changes_the_original() -> None:
    original = {"lines": [{"email": "a@b.c"}, {"amount": 1}]}
    assert redact(original, ("email",)) == {"lines": [{"email": MASK}, {"amount": 1}]}
    assert original["lines"][0]["email"] == "a@b.c"


def test_redaction_setting() -> None:
    env = {"STRIPE_WEBHOOK_SECRET": "whsec_x"}
    assert load_settings(env).redact_fields == DEFAULT_REDACT_FIELDS
    assert load_settings({**env, "BRIDGE_REDACT_FIELDS": " Email , *_token,"}).redact_fields == ("email", "*_token")
    assert load_settings({**env, "BRIDGE_REDACT_FIELDS": ""}).redact_fields == ()
