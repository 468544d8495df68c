"""What each page shows and what its forms do, through Flask's test client on a real SQLite file."""

from __future__ import annotations

import html
import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bridge.providers.stripe.demo import sample
from bridge.providers.stripe.webhook import StripeProvider
from bridge.store.schema import events, field_values
from bridge.web.admin.pages import DONE
from tests.conftest import ROOT
from tests.web.admin.conftest import (
    START,
    Console,
    csrf_of,
    set_state,
    store_event,
    store_values,
    stripe_event,
)

EMAIL = "jane.doe@example.com"


@pytest.fixture
def run(signed_in: Console) -> Console:
    """A subscription created, then an upgrade that never resolved to an account, and values Pendo has."""
    created = stripe_event("evt_created", "customer.subscription.created", created=START - 600,
                           customer_email=EMAIL, metadata={"pendo_account_id": "acme"})
    store_event(signed_in.store, created, START - 590,
                detail={"matched": ["subscription-fields"], "unresolved": [], "warnings": []})
    store_values(signed_in.store, "evt_created", {"billing_plan": "starter", "mrr": 19}, int((START - 600) * 1000),
                 START - 589)
    set_state(signed_in.store, field_values, field_values.c.event_id == "evt_created", state="delivered",
              sent_version=1)
    upgrade = stripe_event("evt_upgrade", "customer.subscription.updated", created=START - 60)
    store_event(signed_in.store, upgrade, START - 50, status="unresolved",
                detail={"matched": ["subscription-fields"], "unresolved": ["subscription-fields"], "warnings": []},
                account=None)
    return signed_in


def test_pages_event_shows_what_went_to_pendo_and_masks_personal_data(run: Console) -> None:
    text = html.unescape(run.page("/admin/events/stripe/evt_created"))
    assert "Pendo accepted it" in text and "rules matched: subscription-fields" in text
    assert '"billing_plan": "starter"' in text and '"accountId": "acme"' in text
    assert EMAIL not in text and '"customer_email": "•••"' in text
    assert "request id req-1" in text


def test_pages_event_masks_nothing_when_told_so(console_factory: Callable[..., Console]) -> None:
    console = console_factory(redact_fields=())
    console.log_in()
    store_event(console.store, stripe_event("evt_1", "invoice.paid", customer_email=EMAIL), START)
    assert EMAIL in console.page("/admin/events/stripe/evt_1")


def test_pages_unknown_event_is_404(signed_in: Console) -> None:
    assert signed_in.client.get("/admin/events/stripe/evt_nope").status_code == 404


def test_pages_account_says_why_pendo_says_what_it_says(run: Console) -> None:
    text = html.unescape(run.page("/admin/accounts/acme"))
    assert '"starter"' in text and "Pendo has this value" in text and "evt_created" in text
    assert "Recent events that changed nothing in Pendo" in text
    assert "evt_upgrade" in text.split("Recent events that changed nothing")[1].split("Account fields")[0]


def test_pages_account_names_each_customer_with_its_provider(run: Console) -> None:
    from bridge.store import links

    with run.store.engine.begin() as connection:
        links.save(connection, "stripe", "cus_same", "acme", "import", START)
        links.save(connection, "other", "cus_same", "acme", "import", START)
    text = html.unescape(run.page("/admin/accounts/acme"))
    assert "/admin/events?provider=stripe&customer=cus_same" in text and "(stripe)" in text
    assert "/admin/events?provider=other&customer=cus_same" in text and "(other)" in text


def test_pages_account_unknown_is_404_with_advice(signed_in: Console) -> None:
    answer = signed_in.client.get("/admin/accounts/nobody")
    assert answer.status_code == 404 and "pendo_account_id" in answer.get_data(as_text=True)


def test_pages_account_lookup_goes_to_the_account_or_its_replay(signed_in: Console) -> None:
    assert signed_in.client.get("/admin/accounts?id=a/b").headers["Location"] == "/admin/accounts/a/b"
    assert signed_in.client.get("/admin/accounts?id=x&then=replay").headers["Location"] == "/admin/accounts/x/replay"


def test_pages_events_filter_and_find(run: Console) -> None:
    text = run.page("/admin/events?status=unresolved")
    assert "evt_upgrade" in text and "evt_created" not in text
    assert run.client.get("/admin/events?event_id=evt_created").headers["Location"] == \
        "/admin/events/stripe/evt_created"
    missing = run.client.get("/admin/events?event_id=evt_nope", follow_redirects=True)
    assert "No stored event with id" in missing.get_data(as_text=True)


def test_pages_overview_numbers_chart_and_pause(run: Console) -> None:
    text = run.page("/admin/")
    assert "<svg" in text and 'class="line line-received"' in text
    assert "Sending to Pendo: <strong>on</strong>" in text
    run.store.set_control("pendo_paused", "Pendo answered 403 to GET /api/v1/token/verify", START)
    assert "Sending to Pendo is paused." in run.page("/admin/")


def test_pages_failures_retry_a_group_after_confirming(run: Console) -> None:
    reason = "Pendo answered 400: bad value"
    set_state(run.store, field_values, field_values.c.field == "mrr", state="failed", last_error=reason)
    assert reason in run.page("/admin/failures")
    confirm = run.client.get("/admin/failures/retry", query_string={"source": "metadata", "state": "failed",
                                                                     "reason": reason})
    assert "Retry 1 metadata values?" in confirm.get_data(as_text=True)
    answer = run.client.post("/admin/failures/retry", data={
        "source": "metadata", "state": "failed", "reason": reason, "csrf_token": csrf_of(confirm)})
    assert answer.headers["Location"] == "/admin/failures?done=retried&n=1"
    assert DONE["retried"].format(n=1) in run.page("/admin/failures?done=retried&n=1")
    with run.store.engine.connect() as connection:
        assert connection.execute(select(field_values.c.state).where(field_values.c.field == "mrr")).scalar() == \
            "pending"


def test_pages_failures_retry_one_returns_to_the_page_it_came_from(run: Console) -> None:
    with run.store.engine.connect() as connection:
        row_id = connection.execute(select(events.c.id).where(events.c.event_id == "evt_upgrade")).scalar_one()
    page = run.client.get("/admin/events/stripe/evt_upgrade")
    answer = run.client.post("/admin/failures/retry-one", data={
        "source": "event", "id": row_id, "back": "/admin/events/stripe/evt_upgrade", "csrf_token": csrf_of(page)})
    assert answer.headers["Location"] == "/admin/events/stripe/evt_upgrade?done=retried&n=1"
    elsewhere = run.client.post("/admin/failures/retry-one", data={
        "source": "event", "id": row_id, "back": "https://evil.example/", "csrf_token": csrf_of(page)})
    assert elsewhere.headers["Location"].startswith("/admin/failures?")


def test_pages_retry_without_csrf_changes_nothing(run: Console) -> None:
    set_state(run.store, field_values, field_values.c.field == "mrr", state="failed", last_error="x")
    answer = run.client.post("/admin/failures/retry", data={"source": "metadata", "state": "failed", "reason": "x"})
    assert answer.status_code == 400
    with run.store.engine.connect() as connection:
        assert connection.execute(select(field_values.c.state).where(field_values.c.field == "mrr")).scalar() == \
            "failed"


def store_sample(console: Console, name: str) -> str:
    body = sample(name, int(START))
    event = StripeProvider(()).parse(body)
    store_event(console.store, event, START, account="acme-demo")
    return event.id


def test_pages_replay_an_account_shows_the_changes_then_queues_them(signed_in: Console) -> None:
    store_sample(signed_in, "customer.subscription.created.json")
    confirm = signed_in.client.get("/admin/accounts/acme-demo/replay")
    text = html.unescape(confirm.get_data(as_text=True))
    assert confirm.status_code == 200 and 'account acme-demo: billing_plan: (not set) -> "pro_monthly"' in text
    with signed_in.store.engine.connect() as connection:
        assert connection.execute(select(field_values)).first() is None  # a dry run until confirmed
    answer = signed_in.client.post("/admin/accounts/acme-demo/replay", data={"csrf_token": csrf_of(confirm)})
    assert answer.headers["Location"].startswith("/admin/accounts/acme-demo?done=replayed&n=")
    with signed_in.store.engine.connect() as connection:
        plan = connection.execute(select(field_values.c.value, field_values.c.state)
                                  .where(field_values.c.field == "billing_plan")).one()
    assert (json.loads(plan[0]), plan[1]) == ("pro_monthly", "pending")


def test_pages_replay_of_an_account_without_events_refuses(signed_in: Console) -> None:
    assert signed_in.client.get("/admin/accounts/nobody/replay").status_code == 409


def test_pages_mappings_shows_the_loaded_set_and_check(signed_in: Console) -> None:
    text = signed_in.page("/admin/mappings")
    assert "stripe.yaml" in text and "No problem in the files" in text and "subscription-fields" in text


def test_pages_mappings_dry_run_of_pasted_json(signed_in: Console) -> None:
    form = signed_in.client.get("/admin/mappings")
    answer = signed_in.client.post("/admin/mappings/try", data={
        "source": "pasted", "event": sample("invoice.paid.json", int(START)).decode(), "customer": "",
        "csrf_token": csrf_of(form)})
    text = html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == 200 and "invoice-paid" in text
    assert "/api/v1/metadata/account/custom/value" in text and '"last_payment_amount": 147.0' in text
    assert "nothing was sent" in text


@pytest.mark.parametrize(("provider", "file"), [("paddle", "created.json"), ("braintree", "created.form")])
def test_pages_mappings_dry_run_of_another_providers_pasted_event(signed_in: Console, provider: str,
                                                                 file: str) -> None:
    """The page offers every registered provider for a pasted event; a form body is pasted as it is posted."""
    form = signed_in.client.get("/admin/mappings")
    assert f"<option>{provider}</option>" in form.get_data(as_text=True)
    body = (ROOT / "tests" / "fixtures" / "contract" / provider / file).read_text()
    answer = signed_in.client.post("/admin/mappings/try", data={
        "source": "pasted", "event_provider": provider, "event": body, "customer": "", "csrf_token": csrf_of(form)})
    text = html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == 200 and "subscription-fields" in text
    assert '"billing_plan": "Pro"' in text and '"mrr": 147.0' in text and '"accountId": "acct-contract"' in text
    assert f'<option selected>{provider}</option>' in text  # the choice is kept with the result


def test_pages_mappings_dry_run_says_when_the_pasted_event_is_not_the_chosen_providers(signed_in: Console) -> None:
    form = signed_in.client.get("/admin/mappings")
    answer = signed_in.client.post("/admin/mappings/try", data={
        "source": "pasted", "event_provider": "paddle", "event": sample("invoice.paid.json", int(START)).decode(),
        "customer": "", "csrf_token": csrf_of(form)})
    assert answer.status_code == 400 and "not a Paddle notification" in answer.get_data(as_text=True)


def test_pages_mappings_dry_run_of_a_stored_event(signed_in: Console) -> None:
    event_id = store_sample(signed_in, "customer.subscription.created.json")
    form = signed_in.client.get(f"/admin/mappings?provider=stripe&event_id={event_id}")
    assert f'value="{event_id}"' in form.get_data(as_text=True)
    answer = signed_in.client.post("/admin/mappings/try", data={
        "source": "stored", "provider": "stripe", "event_id": event_id, "csrf_token": csrf_of(form)})
    text = html.unescape(answer.get_data(as_text=True))
    assert "subscription-fields" in text and '"billing_plan": "pro_monthly"' in text


@pytest.mark.parametrize(("source", "event", "message"), [
    ("pasted", "{not json", "the event is not JSON"),
    ("pasted", "[1]", "the event must be a JSON object"),
    ("stored", "", "no stored event stripe evt_nope"),
])
def test_pages_mappings_dry_run_says_what_is_wrong(signed_in: Console, source: str, event: str, message: str) -> None:
    form = signed_in.client.get("/admin/mappings")
    answer = signed_in.client.post("/admin/mappings/try", data={
        "source": source, "event": event, "provider": "stripe", "event_id": "evt_nope", "csrf_token": csrf_of(form)})
    assert answer.status_code == 400 and message in html.unescape(answer.get_data(as_text=True))


def test_pages_dry_run_takes_an_event_as_big_as_a_webhook(signed_in: Console) -> None:
    body = json.loads(sample("invoice.paid.json", int(START)))
    body["data"]["object"]["metadata"] = {"padding": "x" * 700_000}  # Flask's default form limit is 500 kB
    form = signed_in.client.get("/admin/mappings")
    answer = signed_in.client.post("/admin/mappings/try", data={
        "source": "pasted", "event": json.dumps(body), "customer": "", "csrf_token": csrf_of(form)})
    assert answer.status_code == 200 and "invoice-paid" in answer.get_data(as_text=True)


def test_pages_database_trouble_is_503(signed_in: Console) -> None:
    with signed_in.store.transaction() as connection:  # a query that fails, as when the database is gone
        connection.execute(text("ALTER TABLE events RENAME TO events_elsewhere"))
    for path in ("/admin/", "/admin/events", "/admin/failures"):
        answer = signed_in.client.get(path)
        assert answer.status_code == 503 and "Database unavailable" in answer.get_data(as_text=True)


def test_pages_mappings_check_sees_files_changed_since_start(console_factory: Callable[..., Console],
                                                             tmp_path: Path) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    shutil.copy(ROOT / "mappings" / "stripe.yaml", folder / "stripe.yaml")
    console = console_factory(mappings_dir=folder)
    console.log_in()
    assert "No problem in the files" in console.page("/admin/mappings")
    (folder / "ours.yaml").write_text("rules:\n  - name: broken\n    provider: stripe\n    events: [invoice.paid]\n"
                                      "    account: {plan: \"lookpu('x', 1)\"}\n")
    text = html.unescape(console.page("/admin/mappings"))
    assert "ours.yaml:5: rule broken" in text and "unknown function 'lookpu'" in text
    (folder / "ours.yaml").unlink()
    (folder / "stripe.yaml").write_text((folder / "stripe.yaml").read_text() + "\n# a comment\n")
    assert "restart <code>web</code> and <code>worker</code>" in console.page("/admin/mappings")


def test_pages_event_of_a_named_source_opens_from_its_key(signed_in: Console) -> None:
    stored = replace(stripe_event("evt_eu", "invoice.paid", customer_email=EMAIL), provider="stripe/eu")
    store_event(signed_in.store, stored, START)
    assert "evt_eu" in signed_in.page("/admin/events/stripe/eu/evt_eu")
    assert signed_in.client.get("/admin/events/stripe/evt_eu").status_code == 404
    assert 'href="/admin/events/stripe/eu/evt_eu"' in signed_in.page("/admin/events")
