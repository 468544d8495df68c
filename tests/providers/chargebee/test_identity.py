"""Chargebee's identity slots: custom fields first, then the customer's meta_data."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.providers.chargebee.identity import identity


@pytest.mark.parametrize(
    ("customer", "account", "visitor"),
    [
        ({"cf_pendo_account_id": "a1", "cf_pendo_visitor_id": "v1",
          "meta_data": {"pendo_account_id": "a2", "pendo_visitor_id": "v2"}}, "a1", "v1"),
        ({"meta_data": {"pendo_account_id": "a2", "pendo_visitor_id": "v2"}}, "a2", "v2"),
        ({"cf_pendo_account_id": "  ", "meta_data": {"pendo_account_id": "a2"}}, "a2", None),
        ({"meta_data": '{"pendo_account_id": "a3", "pendo_visitor_id": "v3"}'}, "a3", "v3"),
        ({"meta_data": "{not json"}, None, None),
        ({"meta_data": '{"pendo_account_id": NaN}'}, None, None),
        ({"meta_data": ["pendo_account_id"]}, None, None),
        ({"cf_pendo_account_id": 42017}, "42017", None),
        ({"cf_pendo_account_id": True, "cf_pendo_visitor_id": 1.5}, None, None),
        ({"cf_pendo_account_id": " acct-7 "}, "acct-7", None),
        ({}, None, None),
    ],
)
def test_chargebee_identity_slots(customer: dict[str, Any], account: str | None, visitor: str | None) -> None:
    found = identity({"id": "cus_1", **customer}, None)
    assert (found.customer_id, found.account_id, found.visitor_id) == ("cus_1", account, visitor)


def test_chargebee_identity_without_customer_keeps_the_id() -> None:
    found = identity(None, "cus_2")
    assert (found.customer_id, found.account_id, found.visitor_id, found.email) == ("cus_2", None, None, None)


def test_chargebee_identity_carries_email() -> None:
    assert identity({"id": "cus_3", "email": "a@example.com"}, None).email == "a@example.com"
