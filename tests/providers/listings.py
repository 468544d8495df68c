"""Listed subscriptions as each provider's list API returns them, built from the contract's fixtures.

`COUNT` customers, each with its own subscription id, customer id and identity slots (`account(n)`,
`visitor(n)`): Pro, 3 seats at $49.00 a month (tests/fixtures/contract/<name>/created), the last one canceled
(`canceled`). The end-to-end sync and the in-process sync tests list the same ones.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.providers.deliveries import fixture

COUNT = 5
CANCELED = COUNT - 1  # the last customer's subscription is canceled


def moment(n: int) -> str:
    return "canceled" if n == CANCELED else "created"


def account(n: int) -> str:
    return f"acct-sync-{n}"


def visitor(n: int) -> str:
    return f"user-sync-{n}@example.com"


def paddle_item(n: int) -> dict[str, Any]:
    """A `GET /subscriptions` item: the subscription entity a notification's `data` carries."""
    item: dict[str, Any] = copy.deepcopy(json.loads(fixture("paddle", moment(n)))["data"])
    item["id"] = f"sub_01jsyncsubscription{n:07d}"
    item["customer_id"] = f"ctm_01jsynccustomer{n:011d}"
    item["custom_data"] = {"pendo_account_id": account(n), "pendo_visitor_id": visitor(n)}
    return item


def chargebee_entry(n: int) -> dict[str, Any]:
    """A `GET /subscriptions` list entry: `{"subscription", "customer"}`."""
    content: dict[str, Any] = copy.deepcopy(json.loads(fixture("chargebee", moment(n)))["content"])
    content["subscription"]["id"] = f"cb_sub_sync_{n}"
    content["subscription"]["customer_id"] = content["customer"]["id"] = f"cb_cust_sync_{n}"
    content["customer"].update(cf_pendo_account_id=account(n), cf_pendo_visitor_id=visitor(n))
    return content


def polar_item(n: int) -> dict[str, Any]:
    """A `GET /v1/subscriptions/` item: the subscription with its customer and product, as webhooks carry it."""
    item: dict[str, Any] = copy.deepcopy(json.loads(fixture("polar", moment(n)))["data"])
    item["id"] = f"7e0c1d2a-0000-4000-8000-{n:012d}"
    item["started_at"] = f"2026-11-0{n + 1}T09:20:11.104512Z"
    item["customer_id"] = item["customer"]["id"] = f"3b1f6a2e-0000-4000-8000-{n:012d}"
    item["customer"]["metadata"] = {"pendo_account_id": account(n), "pendo_visitor_id": visitor(n)}
    return item
