"""`status`, `sync` and `catchup` with named sources, as a user runs them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.cli.test_main import run

ENV = {"STRIPE_WEBHOOK_SECRET": "whsec_x", "STRIPE_WEBHOOK_SECRET_EU": "whsec_eu"}


def test_status_lists_every_source_and_narrows_to_one(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate", **ENV).returncode == 0
    every = json.loads(run(tmp_path, "status", "--json", **ENV).stdout)["webhook_sources"]
    assert every == {
        "stripe": {"provider": "stripe", "source": "default", "endpoint": "/webhooks/stripe", "configured": True,
                   "events_30d": 0, "connected_accounts_30d": 0},
        "stripe/eu": {"provider": "stripe", "source": "eu", "endpoint": "/webhooks/stripe/eu", "configured": True,
                      "events_30d": 0, "connected_accounts_30d": 0}}
    narrowed = json.loads(run(tmp_path, "status", "--json", "--source", "EU", **ENV).stdout)["webhook_sources"]
    assert list(narrowed) == ["stripe/eu"]


def test_sync_and_catchup_name_the_sources_own_variables(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate", **ENV).returncode == 0
    unset = run(tmp_path, "sync", "stripe", "--source", "us", **ENV)
    assert unset.returncode == 2 and "stripe/us is not configured" in unset.stderr
    assert "STRIPE_WEBHOOK_SECRET_US, STRIPE_MODE_US" in unset.stderr
    no_key = run(tmp_path, "catchup", "stripe", "--source", "eu", "--since", "2026-01-01", **ENV)
    assert no_key.returncode == 2 and "STRIPE_API_KEY_EU is not set" in no_key.stderr
    bad = run(tmp_path, "sync", "stripe", "--source", "e.u", **ENV)
    assert bad.returncode == 2 and "not a source name" in bad.stderr


def test_link_import_fills_one_sources_links(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate", **ENV).returncode == 0
    (tmp_path / "links.csv").write_text("customer_id,account_id\ncus_1,acme-eu\n")
    imported = run(tmp_path, "link", "import", "links.csv", "--provider", "stripe", "--source", "eu", **ENV)
    assert imported.returncode == 0, imported.stderr
    with sqlite3.connect(tmp_path / "bridge.db") as connection:
        rows = connection.execute("select provider, customer_id, account_id from customer_links").fetchall()
    assert rows == [("stripe/eu", "cus_1", "acme-eu")]


def test_purge_narrows_to_one_sources_customer(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate", **ENV).returncode == 0
    with sqlite3.connect(tmp_path / "bridge.db") as connection:
        for key in ("stripe", "stripe/eu"):
            connection.execute("insert into customer_links (provider, customer_id, account_id, source, updated_at) "
                               "values (?, 'cus_1', 'acme', 'import', 1.0)", (key,))
            connection.execute("insert into provider_objects (provider, object_id, payload, fetched_at) "
                               "values (?, 'cus_1', '{\"id\": \"cus_1\"}', 1.0)", (key,))
    done = run(tmp_path, "purge", "--customer", "cus_1", "--provider", "stripe", "--source", "eu", **ENV)
    assert done.returncode == 0 and "1 cached provider objects" in done.stdout, done.stdout
    with sqlite3.connect(tmp_path / "bridge.db") as connection:
        left = connection.execute("select provider from provider_objects").fetchall()
    assert left == [("stripe",)]
    alone = run(tmp_path, "purge", "--customer", "cus_1", "--source", "eu", **ENV)
    assert alone.returncode == 2 and "give --provider too" in alone.stdout
