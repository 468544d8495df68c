"""`bridge sync` of Paddle, Chargebee and Polar as a new user runs it: the real command and worker, the provider's
fake API on loopback, a fake Pendo.

Each provider lists several pages of the contract's subscriptions (tests/fixtures/contract/<name>/: Pro, 3 seats
at $49.00 a month, the last one canceled), one per customer, each with its own identity slots. The fake API
serves two a page, so the run crosses pages, its cursor and a resume. One deployment per provider runs, in
order: a dry run (it stores nothing), a sync refused by the API after its first page (it keeps its cursor), the
rerun that resumes from it, the values in Pendo (and no track event), and a second sync that sends Pendo nothing
new.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.harness import BIN, Service, wait_until
from tests.fakes.pendo import FakePendo
from tests.fakes.provider_api import FakeProviderApi
from tests.providers.chargebee.fake_chargebee import FakeChargebee
from tests.providers.deliveries import SENDERS
from tests.providers.listings import CANCELED, COUNT, account, chargebee_entry, paddle_item, polar_item
from tests.providers.paddle.fake_paddle import FakePaddle
from tests.providers.polar.fake_polar import FakePolar

pytestmark = pytest.mark.e2e

PAGE = 2  # subscriptions a page: COUNT of them fill three pages
API_KEY = "fake-api-key"


@dataclass(frozen=True)
class Provider:
    fake: Callable[[], FakeProviderApi]
    env: Callable[[str], dict[str, str]]
    list_path: str  # the list endpoint's path on the fake
    first_cursor: str  # the cursor kept after the first page


PROVIDERS: dict[str, Provider] = {
    "paddle": Provider(lambda: FakePaddle(API_KEY, [], [paddle_item(n) for n in range(COUNT)], max_per_page=PAGE),
                       lambda base: {"PADDLE_API_KEY": API_KEY, "PADDLE_API_BASE": base,
                                     "PADDLE_REQUESTS_PER_SECOND": "50"},
                       "/subscriptions", paddle_item(1)["id"]),
    "chargebee": Provider(lambda: FakeChargebee(API_KEY, [chargebee_entry(n) for n in range(COUNT)], {},
                                                max_limit=PAGE),
                          lambda base: {"CHARGEBEE_API_KEY": API_KEY, "CHARGEBEE_API_BASE": base,
                                        "CHARGEBEE_REQUESTS_PER_SECOND": "50"},
                          "/api/v2/subscriptions", str(PAGE)),
    "polar": Provider(lambda: FakePolar(API_KEY, [polar_item(n) for n in range(COUNT)], max_limit=PAGE),
                      lambda base: {"POLAR_API_KEY": API_KEY, "POLAR_API_BASE": base,
                                    "POLAR_REQUESTS_PER_SECOND": "50"},
                      "/v1/subscriptions/", "2"),
}


@dataclass
class Deployment:
    name: str
    service: Service
    pendo: FakePendo
    api: FakeProviderApi

    def bridge(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a `bridge` command as the user would."""
        done = subprocess.run([str(BIN / "bridge"), *args], env=self.service.env, cwd=self.service.tmp_path,
                              capture_output=True, text=True, timeout=60, check=False)
        assert (done.returncode == 0) == ok, done.stderr
        return done

    def sync(self, *args: str) -> dict[str, Any]:
        """`bridge sync <name>`; its last line is the JSON report."""
        return dict(json.loads(self.bridge("sync", self.name, *args).stdout.strip().splitlines()[-1]))

    def count(self, query: str) -> int:
        engine = create_engine(self.service.env["DATABASE_URL"])
        try:
            with engine.connect() as connection:
                return int(connection.execute(text(query)).scalar_one())
        finally:
            engine.dispose()

    def cursor(self) -> str | None:
        engine = create_engine(self.service.env["DATABASE_URL"])
        try:
            with engine.connect() as connection:
                found = connection.execute(text("select value from controls where name = :name"),
                                           {"name": f"{self.name}_sync_cursor"}).scalar()
        finally:
            engine.dispose()
        return json.loads(found)["after"] if found else None

    def list_requests(self) -> list[dict[str, list[str]]]:
        """The list endpoint's queries, in the order asked."""
        spec = PROVIDERS[self.name]
        return [parse_qs(urlsplit(path).query) for path in self.api.requests
                if urlsplit(path).path == spec.list_path]


@contextmanager
def deployed(name: str, tmp: Path) -> Iterator[Deployment]:
    """One provider's deployment with its API key: its fake API, a fake Pendo, the web and worker processes."""
    with ExitStack() as stack:
        pendo = stack.enter_context(FakePendo(integration_key="test-integration-key",
                                              track_secret="test-track-secret"))
        api = stack.enter_context(PROVIDERS[name].fake())
        env = {"STRIPE_WEBHOOK_SECRET": "", **SENDERS[name].env, **PROVIDERS[name].env(api.base)}
        service = Service(tmp, f"sqlite:///{tmp / 'bridge.db'}", pendo.url, **env)
        stack.callback(service.stop)
        yield Deployment(name, service.start(), pendo, api)


def refuse_once(api: FakeProviderApi, path: str, nth: int) -> None:
    """The `nth` request for `path` (from now on) is answered 400, as a request Chargebee, Paddle or Polar will not
    serve: it is not retried in-process, so the sync stops there."""
    route, seen = api.route, [0]

    def refusing(asked: str, headers: Mapping[str, str]) -> tuple[int, Any]:
        if urlsplit(asked).path == path:
            seen[0] += 1
            if seen[0] == nth:
                return 400, {"error": "bad request"}
        return route(asked, headers)

    api.route = refusing  # type: ignore[method-assign]


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_sync_fills_every_account_resumes_and_resends_nothing(name: str, tmp_path: Path) -> None:
    with deployed(name, tmp_path) as deployment:
        a_dry_run_stores_nothing(deployment)
        an_interrupted_sync_resumes_from_its_cursor(deployment)
        every_account_gets_its_billing_fields_and_no_track_event(deployment)
        a_second_sync_sends_nothing_new(deployment)


def a_dry_run_stores_nothing(deployment: Deployment) -> None:
    done = deployment.bridge("sync", deployment.name, "--dry-run")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert (report["dry_run"], report["subscriptions"], report["accounts"], report["events_queued"]) == (
        True, COUNT, COUNT, 0)
    assert report["api_requests"] == 3  # one a page
    assert f"account {account(0)}: billing_status: (not set) -> \"active\"" in done.stdout
    assert deployment.count("select count(*) from events") == 0
    assert deployment.count("select count(*) from provider_objects") == 0
    assert deployment.cursor() is None
    time.sleep(0.5)  # several worker polls
    assert deployment.pendo.metadata_rows("account") == []


def an_interrupted_sync_resumes_from_its_cursor(deployment: Deployment) -> None:
    spec = PROVIDERS[deployment.name]
    refuse_once(deployment.api, spec.list_path, nth=2)
    failed = deployment.bridge("sync", deployment.name, ok=False)
    assert "400" in failed.stderr and API_KEY not in failed.stderr  # why it stopped, never the key
    assert deployment.count("select count(*) from events") == PAGE
    assert deployment.cursor() == spec.first_cursor

    asked = len(deployment.list_requests())
    resumed = deployment.sync()
    assert (resumed["resumed_after"], resumed["subscriptions"], resumed["events_queued"]) == (
        spec.first_cursor, COUNT - PAGE, COUNT - PAGE)
    first = deployment.list_requests()[asked]
    assert spec.first_cursor in {value for values in first.values() for value in values}  # asked after the cursor
    assert deployment.count("select count(*) from events") == COUNT  # nothing stored twice
    assert deployment.cursor() is None


def every_account_gets_its_billing_fields_and_no_track_event(deployment: Deployment) -> None:
    pendo = deployment.pendo
    for n in range(COUNT):
        values = wait_until(lambda n=n: pendo.account_values(account(n)).get("billing_interval") is not None
                            and pendo.account_values(account(n)))
        expected = ("canceled", 0.0) if n == CANCELED else ("active", 147.0)
        assert (values["billing_status"], values["mrr"], values["billing_currency"], values["billing_interval"]) == (
            *expected, "USD", "month"), values
    wait_until(lambda: deployment.count("select count(*) from events where status = 'received'") == 0)
    time.sleep(1.5)  # the delivery's linger: anything still to send has gone
    assert pendo.track_events() == []


def a_second_sync_sends_nothing_new(deployment: Deployment) -> None:
    sent = len(deployment.pendo.metadata_rows("account"))
    second = deployment.sync()
    assert (second["subscriptions"], second["accounts"], second["events_queued"]) == (COUNT, COUNT, COUNT)
    wait_until(lambda: deployment.count("select count(*) from events where status = 'received'") == 0)
    time.sleep(1.5)
    assert len(deployment.pendo.metadata_rows("account")) == sent
    assert deployment.pendo.track_events() == []
