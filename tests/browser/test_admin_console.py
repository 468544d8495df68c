"""An operator's session in a real browser: log in, read a run's events, follow one to its account, see a delivery
fail and retry it after the fix, dry-run a mapping, log out. Every page is also looked at on a phone's width;
screenshots of both go to tests/browser/screenshots/ (or BRIDGE_SCREENSHOTS_DIR)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import PASSWORD
from tests.e2e.harness import Service, stripe_event, wait_until
from tests.e2e.payloads import invoice, price, subscription
from tests.fakes.pendo import FakePendo

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

LAPTOP = {"width": 1366, "height": 860}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 15_000

# Every visible form control must have a label a screen reader can read out.
UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
  .map(el => el.outerHTML)"""
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


class Operator:
    """A laptop browser the test drives and a phone browser that looks at the same pages."""

    def __init__(self, browser: Any, base: str, shots: Path):
        self.base, self.shots = base, shots
        self.laptop = browser.new_context(viewport=LAPTOP).new_page()
        self.phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
        for page in (self.laptop, self.phone):
            page.set_default_timeout(TIMEOUT_MS)

    def log_in(self, page: Any, password: str = PASSWORD) -> None:
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()

    def look(self, name: str, again: Callable[[Any], None] | None = None) -> None:
        """Screenshot the laptop's page; on the phone open the same address (or do `again` there), check that the
        page is laid out for the phone's width and fits it, and screenshot it."""
        self.laptop.screenshot(path=str(self.shots / f"{name}-laptop.png"), full_page=True)
        assert self.laptop.evaluate(UNLABELLED) == []
        if again is None:
            self.phone.goto(self.laptop.url)
        else:
            again(self.phone)
        assert self.phone.evaluate("document.documentElement.clientWidth") == PHONE["width"]
        assert self.phone.evaluate(OVERFLOW) <= 1, f"{name}: the page is wider than a phone's screen"
        self.phone.screenshot(path=str(self.shots / f"{name}-phone.png"), full_page=True)


def upgrade(plan: str, amount: int, created: int) -> dict[str, Any]:
    """A subscription of account acme moving to `plan`."""
    sub = subscription(account="acme")
    sub["items"]["data"][0]["price"] = {**price(amount=amount, lookup_key=plan), "id": f"price_{plan}"}
    return stripe_event("customer.subscription.updated", sub, created=created)


def test_admin_console_journey(browser: Any, console: Service, pendo: FakePendo, screenshots: Path) -> None:
    now = int(time.time())
    starter = upgrade("starter_monthly", 1900, now - 120)
    paid = stripe_event("invoice.paid", invoice(account="acme"), created=now - 60)
    for event in (starter, paid):
        assert console.post(event).status_code == 200
    wait_until(lambda: pendo.account_values("acme").get("last_payment_amount") == 98.0, timeout=30)
    me = Operator(browser, console.url, screenshots)
    page = me.laptop

    # Logged out, every page leads to the login form; a wrong password is refused, the right one lands where we were.
    page.goto(f"{console.url}/admin/events")
    assert "/admin/login" in page.url
    page.screenshot(path=str(screenshots / "login-laptop.png"), full_page=True)
    me.phone.goto(page.url)
    me.phone.screenshot(path=str(screenshots / "login-phone.png"), full_page=True)
    me.log_in(page, "not the password at all")
    assert page.get_by_role("alert").inner_text() == "Wrong password."
    me.log_in(page)
    page.wait_for_url(re.compile(r"/admin/events$"))
    me.log_in(me.phone)
    me.phone.wait_for_url(re.compile(r"/admin/events$"))

    # The run's events, newest first; the filter form narrows them.
    rows = page.locator("table.events tbody tr")
    assert rows.count() == 2
    assert starter["id"] in rows.nth(1).inner_text() and paid["id"] in rows.nth(0).inner_text()
    me.look("events")
    page.get_by_label("Type").fill("customer.subscription.updated")
    page.get_by_role("button", name="Filter").click()
    assert rows.count() == 1 and starter["id"] in rows.first.inner_text()

    # One event: its timeline, exactly what Pendo got, the payload with personal data masked.
    page.get_by_role("link", name=starter["id"]).click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("customer.subscription.updated")
    assert "Pendo accepted it" in page.locator(".timeline").inner_text()
    page.get_by_text("What Pendo gets for account acme").click()
    [sent] = json.loads(page.locator("details[open] pre.json").inner_text())
    assert sent["accountId"] == "acme" and sent["values"]["billing_plan"] == "starter_monthly"
    held_by_pendo = pendo.account_values("acme")
    # a field sent as null is one cleared: Pendo holds nothing for it
    assert {name: held_by_pendo.get(name) for name in sent["values"]} == sent["values"]
    me.look("event")
    page.goto(f"{console.url}/admin/events/stripe/{paid['id']}")
    payload = page.locator("section[aria-labelledby=payload-h] pre").inner_text()
    assert '"customer_email": "•••"' in payload and "billing@acme.example" not in payload

    # Its account: every field as last sent, and the event that set it.
    page.get_by_role("link", name="acme", exact=True).first.click()
    plan_row = page.locator("tr", has=page.locator("code", has_text=re.compile("^billing_plan$")))
    assert '"starter_monthly"' in plan_row.inner_text() and "Pendo has this value" in plan_row.inner_text()
    assert starter["id"] in plan_row.inner_text()
    me.look("account")

    # Stripe says acme upgraded, but Pendo refuses the request (400): the Failures page says why.
    pendo.fail_next(1, status=400, path_prefix="/api/v1/metadata")
    pro = upgrade("pro_monthly", 4900, now)
    assert console.post(pro).status_code == 200
    wait_until(lambda: page.goto(f"{console.url}/admin/failures") and page.locator("section.group").count(), timeout=30)
    group = page.locator("section.group").first
    assert "metadata values" in group.inner_text() and "400" in group.inner_text()
    me.look("failures")
    page.goto(f"{console.url}/admin/accounts/acme")
    plan_row = page.locator("tr", has=page.locator("code", has_text=re.compile("^billing_plan$")))
    assert '"pro_monthly"' in plan_row.inner_text() and "Pendo refused it" in plan_row.inner_text()
    assert pendo.account_values("acme")["billing_plan"] == "starter_monthly"
    me.look("account-refused")

    # The fault is gone (fixed): retry the whole group, after a confirmation.
    page.goto(f"{console.url}/admin/failures")
    page.get_by_role("link", name=re.compile(r"^Retry all")).click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Retry ")
    me.look("retry-confirm")
    page.get_by_role("button", name=re.compile(r"^Retry \d")).click()
    assert "sent round again" in page.get_by_role("status").inner_text()
    wait_until(lambda: pendo.account_values("acme").get("billing_plan") == "pro_monthly", timeout=30)
    page.reload()
    assert "Nothing failed" in page.locator("main").inner_text()

    # The overview: counts, the budget, the chart of the last day.
    page.get_by_role("link", name="Overview").click()
    delivered = page.locator(".card-delivered .card-number").inner_text()
    assert int(delivered.replace(",", "")) > 0
    assert page.locator("svg polyline.line-received").count() == 1
    me.look("overview")

    # A dry run of pasted JSON against the loaded mappings: the rules and the exact request, nothing sent.
    pasted = stripe_event("invoice.paid", invoice(account="initech"))

    def dry_run(page: Any) -> None:
        page.get_by_role("link", name="Mappings").click()
        page.get_by_label("Pasted JSON").check()
        page.get_by_label(re.compile("^Event JSON")).fill(json.dumps(pasted))
        page.get_by_role("button", name="Dry run").click()

    sent_before = len(pendo.requests)
    dry_run(page)
    result = page.get_by_role("region", name="Dry run result")
    assert "invoice-paid" in result.inner_text() and '"accountId": "initech"' in result.inner_text()
    me.look("mappings", again=dry_run)
    time.sleep(1)
    assert len(pendo.requests) == sent_before

    # Log out: the pages are closed again.
    page.get_by_role("button", name="Log out").click()
    assert "You are logged out." in page.get_by_role("status").inner_text()
    page.goto(f"{console.url}/admin/")
    assert "/admin/login" in page.url


def test_admin_console_reads_without_javascript(browser: Any, console: Service, screenshots: Path) -> None:
    event = stripe_event("customer.subscription.created", subscription(account="acme"))
    assert console.post(event).status_code == 200
    context = browser.new_context(viewport=LAPTOP, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{console.url}/admin/")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")  # the keyboard alone submits the form
    page.wait_for_url(re.compile(r"/admin/$"))
    page.goto(f"{console.url}/admin/events/stripe/{event['id']}")
    assert event["id"] in page.locator("h1").inner_text()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # from the top of the content: the first link in it, past the navigation
    assert page.evaluate("document.activeElement.closest('main') !== null")
    assert page.evaluate("document.activeElement.textContent") == "Events"  # the breadcrumb
    context.close()
