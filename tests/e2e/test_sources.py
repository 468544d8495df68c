"""Two accounts of one provider through the real web and worker processes: the same ids never meet."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT
from tests.e2e.harness import BIN, Service, stripe_event, wait_until
from tests.e2e.payloads import customer, invoice, subscription
from tests.fakes.pendo import FakePendo

EU_SECRET = "whsec_the_eu_accounts_own_secret"


def _unmarked_invoice(amount: int) -> dict[str, Any]:
    """An invoice of cus_1 / sub_1 that names no Pendo account: only the customer's link can place it."""
    paid = invoice(amount=amount)
    paid["parent"]["subscription_details"]["metadata"] = {}
    paid["customer_email"] = None
    return paid


def test_two_sources_with_the_same_ids_reach_their_own_accounts(service_factory: Any, pendo: FakePendo) -> None:
    service: Service = service_factory(STRIPE_WEBHOOK_SECRET_EU=EU_SECRET)
    created = int(time.time()) - 120
    # Each account's customer cus_1 first, as Stripe sends it (a subscription's MRR waits for its customer).
    assert service.post(stripe_event("customer.created", customer(account="acme-us"), created=created - 1)
                        ).status_code == 200
    assert service.post(stripe_event("customer.created", customer(account="acme-eu"), created=created - 1),
                        secret=EU_SECRET, endpoint="stripe/eu").status_code == 200
    # The same event id, customer cus_1 and subscription sub_1 in both accounts, on two different Pendo accounts.
    us = stripe_event("customer.subscription.created", subscription(account="acme-us", quantity=2),
                      created=created, event_id="evt_same_in_both")
    eu = stripe_event("customer.subscription.created", subscription(account="acme-eu", quantity=5),
                      created=created, event_id="evt_same_in_both")
    first, second = service.post(us), service.post(eu, secret=EU_SECRET, endpoint="stripe/eu")
    assert first.status_code == 200 and second.status_code == 200
    assert second.json()["duplicate"] is False  # one account's event id is not the other's
    wait_until(lambda: pendo.account_values("acme-us").get("mrr") == 98.0
               and pendo.account_values("acme-eu").get("mrr") == 245.0)

    # Invoices that name no account are placed by each source's own link of cus_1.
    assert service.post(stripe_event("invoice.paid", _unmarked_invoice(9800))).status_code == 200
    assert service.post(stripe_event("invoice.paid", _unmarked_invoice(12300)), secret=EU_SECRET,
                        endpoint="stripe/eu").status_code == 200
    wait_until(lambda: pendo.account_values("acme-us").get("last_payment_amount") == 98.0
               and pendo.account_values("acme-eu").get("last_payment_amount") == 123.0)
    us_values, eu_values = pendo.account_values("acme-us"), pendo.account_values("acme-eu")
    assert (us_values["mrr"], us_values["seats"]) == (98.0, 2)
    assert (eu_values["mrr"], eu_values["seats"]) == (245.0, 5)

    # Each endpoint takes only its own secret; a source whose secret is unset has no endpoint.
    stray = stripe_event("customer.subscription.updated", subscription(account="acme-eu"))
    assert service.post(stray, secret=EU_SECRET).status_code == 400
    assert service.post(stray, endpoint="stripe/eu").status_code == 400
    assert service.post(stray, endpoint="stripe/us").status_code == 404

    report = subprocess.run([str(BIN / "bridge"), "status", "--json"], env=service.env, cwd=service.tmp_path,
                            capture_output=True, timeout=60, check=True)
    sources = json.loads(report.stdout)["webhook_sources"]
    assert sources["stripe/eu"] == {"provider": "stripe", "source": "eu", "endpoint": "/webhooks/stripe/eu",
                                    "configured": True, "events_30d": 3,  # customer, subscription, invoice
                                    "connected_accounts_30d": 0}
    assert sources["stripe"]["source"] == "default" and sources["stripe"]["events_30d"] == 3


def _connect_overlay(folder: Path) -> Path:
    """An overlay that lets every shipped rule map Connect events too (`connect: true`), as a platform writes it."""
    folder.mkdir()
    for shipped in sorted((ROOT / "mappings").glob("*.yaml")):
        document = yaml.safe_load(shipped.read_text())
        rules = [{**rule, "connect": True} for rule in document.get("rules", [])]
        (folder / shipped.name).write_text(yaml.safe_dump({"rules": rules}, sort_keys=False))
    return folder


def test_connected_accounts_with_the_same_ids_resolve_through_their_accounts(
        service_factory: Any, pendo: FakePendo, tmp_path: Path) -> None:
    service: Service = service_factory(BRIDGE_MAPPINGS_OVERLAY_DIR=str(_connect_overlay(tmp_path / "overlay")),
                                       BRIDGE_ACCOUNT_FALLBACK="connect_account")
    # The platform links its connected account acct_A to the Pendo account tenant-a; acct_B has no link, so the
    # fallback names its account by the connected account id.
    (tmp_path / "links.csv").write_text("customer_id,account_id\nacct_A,tenant-a\n")
    subprocess.run([str(BIN / "bridge"), "link", "import", str(tmp_path / "links.csv"), "--provider", "stripe"],
                   env=service.env, cwd=service.tmp_path, capture_output=True, timeout=60, check=True)
    created = int(time.time()) - 60
    for account, quantity in (("acct_A", 2), ("acct_B", 5)):
        # the connected account's customer (sent first, as Stripe does) names no account, nor does its subscription
        known = {"id": "cus_1", "object": "customer", "email": None, "discount": None, "metadata": {}}
        assert service.post({**stripe_event("customer.created", known, created=created - 1),
                             "account": account}).status_code == 200
        unmarked = subscription(quantity=quantity, metadata={})
        event = {**stripe_event("customer.subscription.created", unmarked, created=created), "account": account}
        assert service.post(event).status_code == 200
    wait_until(lambda: pendo.account_values("tenant-a").get("mrr") == 98.0
               and pendo.account_values("acct_B").get("mrr") == 245.0)
    assert pendo.account_values("tenant-a")["seats"] == 2 and pendo.account_values("acct_B")["seats"] == 5
    report = subprocess.run([str(BIN / "bridge"), "status", "--json"], env=service.env, cwd=service.tmp_path,
                            capture_output=True, timeout=60, check=True)
    status = json.loads(report.stdout)
    assert status["webhook_sources"]["stripe"]["connected_accounts_30d"] == 2
    assert status["webhook_sources"]["stripe"]["events_30d"] == 4  # a customer and a subscription each
    assert list(status["api_versions"]) == ["stripe"]  # one entry per endpoint, not per connected account
