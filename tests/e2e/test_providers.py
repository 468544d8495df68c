"""Every provider but Stripe through the real web and worker processes into a fake Pendo, one deployment each.

Each deployment has only that provider's variables set (Stripe's secret is empty), plus, for a provider whose
facts need its API (Recurly, Lemon Squeezy, Maxio), its key and the address of its fake API on loopback. What is
posted is the contract's one-seat subscription (tests/fixtures/contract/<name>/created-1-seat), dated now (Pendo
drops track events older than 7 days) and signed as the provider signs it (tests/providers/deliveries.py).
Standard Webhooks has no billing vocabulary: its deployment carries an admin's overlay rule, as its docs show.
One deployment serves all of a provider's cases, run in order in one test (whatever the test distribution, a
provider's deployment starts once), so the module stays fast.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
import requests
from sqlalchemy import create_engine, text

from bridge.providers.braintree.webhook import sign as braintree_sign
from bridge.providers.chargebee.webhook import authorization
from tests.e2e.harness import Service, wait_until
from tests.fakes.pendo import FakePendo
from tests.fakes.provider_api import FakeProviderApi
from tests.providers.deliveries import CONTRACT, SENDERS, fixture
from tests.providers.lemonsqueezy.fake_lemonsqueezy import FakeLemonSqueezy
from tests.providers.maxio.fake_maxio import FakeMaxio
from tests.providers.recurly.fake_recurly import FakeRecurly

pytestmark = pytest.mark.e2e

PROVIDERS = ("paddle", "chargebee", "polar", "standard", "recurly", "lemonsqueezy", "braintree", "maxio")
ACCOUNT, VISITOR = "acct-contract", "user-contract"
API_KEY = "fake-api-key"
MOMENT = "created-1-seat"

# Standard Webhooks: the admin's own rule for the sender's event (docs/providers/standard.md, "Mapping").
STANDARD_OVERLAY = """
rules:
  - name: standard-subscription-created
    provider: standard
    events: [subscription.created]
    account:
      billing_plan: "event.data.plan"
      billing_status: "event.data.status"
      mrr: "event.data.mrr"
      billing_currency: "event.data.currency"
      billing_interval: "event.data.interval"
      seats: "event.data.seats"
    types:
      mrr: number
      seats: number
    track:
      event: Subscription Created
      properties:
        plan: "event.data.plan"
        mrr: "event.data.mrr"
"""


def iso(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json(change: Callable[[dict[str, Any], float], None]) -> Callable[[bytes, float], bytes]:
    def fresh(body: bytes, now: float) -> bytes:
        payload = json.loads(body)
        change(payload, now)
        return json.dumps(payload).encode()

    return fresh


def _braintree(body: bytes, now: float) -> bytes:
    """Braintree signs the payload inside the form: the notification's own time is replaced, then signed again."""
    fields = dict(parse_qsl(body.decode()))
    xml = base64.b64decode(fields["bt_payload"]).decode()
    xml = re.sub(r"(<notification>\s*<timestamp type=\"datetime\">)[^<]*", rf"\g<1>{iso(now)}", xml, count=1)
    payload = base64.encodebytes(xml.encode()).decode()
    signature = f"{SENDERS['braintree'].env['BRAINTREE_PUBLIC_KEY']}|" \
                f"{braintree_sign(SENDERS['braintree'].env['BRAINTREE_PRIVATE_KEY'], payload)}"
    return urlencode({"bt_signature": signature, "bt_payload": payload}).encode()


def _maxio(body: bytes, now: float) -> bytes:
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S +0000")
    pairs = [(key, stamp if key == "payload[subscription][updated_at]" else value)
             for key, value in parse_qsl(body.decode(), keep_blank_values=True)]
    return urlencode(pairs).encode()


def _standard(body: bytes, now: float) -> bytes:
    return json.dumps({"type": "subscription.created", "timestamp": iso(now), "data": {
        "metadata": {"pendo_account_id": ACCOUNT, "pendo_visitor_id": VISITOR}, "plan": "Pro", "status": "active",
        "mrr": 49, "currency": "USD", "interval": "month", "seats": 1}}).encode()


def _set(*path: str, value: Callable[[float], Any] = iso) -> Callable[[dict[str, Any], float], None]:
    def change(payload: dict[str, Any], now: float) -> None:
        for key in path[:-1]:
            payload = payload[key]
        payload[path[-1]] = value(now)

    return change


# How each provider's contract body is dated now (its event time, as its package reads it).
FRESH: dict[str, Callable[[bytes, float], bytes]] = {
    "paddle": _json(_set("occurred_at")),
    "chargebee": _json(_set("occurred_at", value=int)),
    "polar": _json(_set("timestamp")),
    "standard": _standard,
    "recurly": _json(_set("event_time")),
    "lemonsqueezy": _json(_set("data", "attributes", "updated_at")),
    "braintree": _braintree,
    "maxio": _maxio,
}


def _enrichment(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CONTRACT / name / "enrichment" / f"{MOMENT}.json").read_text())
    return loaded


def _recurly() -> tuple[FakeProviderApi, Callable[[str], dict[str, str]]]:
    found = _enrichment("recurly")
    fake = FakeRecurly(API_KEY, [found["subscription"]], [found["customer"]], [found["plan"]])
    return fake, lambda base: {"RECURLY_API_KEY": API_KEY, "RECURLY_API_BASE": base}


def _lemonsqueezy() -> tuple[FakeProviderApi, Callable[[str], dict[str, str]]]:
    found = _enrichment("lemonsqueezy")
    fake = FakeLemonSqueezy(API_KEY, [found["price"], found["store"]])
    return fake, lambda base: {"LEMONSQUEEZY_API_KEY": API_KEY, "LEMONSQUEEZY_API_BASE": base}


def _maxio_api() -> tuple[FakeProviderApi, Callable[[str], dict[str, str]]]:
    """Maxio's answers, as its API wraps them, for what the recorded enrichment holds."""
    found = _enrichment("maxio")
    subscription = found["subscription"]
    answers: dict[str, Any] = {
        f"/subscriptions/{subscription['id']}.json": {"subscription": subscription},
        f"/subscriptions/{subscription['id']}/components.json": [{"component": c} for c in found["components"]],
        f"/customers/{subscription['customer']['id']}/metadata.json": {"metadata": [
            {"name": key, "value": value, "resource_id": subscription["customer"]["id"]}
            for key, value in found["metafields"].items()]},
    }
    for key, point in found["price_points"].items():
        component, price_point = key.split(":")
        answers[f"/components/{component}/price_points/{price_point}.json"] = {"price_point": point}
    return FakeMaxio(API_KEY, answers), lambda base: {"MAXIO_API_KEY": API_KEY, "MAXIO_SUBDOMAIN": base}


APIS: dict[str, Callable[[], tuple[FakeProviderApi, Callable[[str], dict[str, str]]]]] = {
    "recurly": _recurly, "lemonsqueezy": _lemonsqueezy, "maxio": _maxio_api}


@dataclass
class Deployment:
    name: str
    service: Service
    pendo: FakePendo

    def post(self, body: bytes, headers: dict[str, str], endpoint: str | None = None) -> requests.Response:
        return requests.post(f"{self.service.url}/webhooks/{endpoint or self.name}", data=body, headers=headers,
                             timeout=10)

    def delivery(self) -> tuple[bytes, dict[str, str]]:
        """The contract's one-seat subscription, dated and signed now."""
        now = time.time()
        body = FRESH[self.name](fixture(self.name, MOMENT) if self.name != "standard" else b"", now)
        return body, SENDERS[self.name].headers(body, now)

    def stored(self) -> int:
        engine = create_engine(self.service.env["DATABASE_URL"])
        try:
            with engine.connect() as connection:
                return int(connection.execute(text("select count(*) from events")).scalar_one())
        finally:
            engine.dispose()


@contextmanager
def deployed(name: str, tmp: Path) -> Iterator[Deployment]:
    """One provider's deployment: its fake Pendo, its fake API when it needs one, its web and worker."""
    with ExitStack() as stack:
        pendo = stack.enter_context(FakePendo(integration_key="test-integration-key",
                                              track_secret="test-track-secret"))
        env = {"STRIPE_WEBHOOK_SECRET": "", **SENDERS[name].env}
        if name in APIS:
            fake, variables = APIS[name]()
            api: AbstractContextManager[FakeProviderApi] = fake
            env.update(variables(stack.enter_context(api).base))
        if name == "standard":
            overlay = tmp / "overlay"
            overlay.mkdir()
            (overlay / "standard.yaml").write_text(STANDARD_OVERLAY)
            env["BRIDGE_MAPPINGS_OVERLAY_DIR"] = str(overlay)
        service = Service(tmp, f"sqlite:///{tmp / 'bridge.db'}", pendo.url, **env)
        stack.callback(service.stop)
        yield Deployment(name, service.start(), pendo)


@pytest.mark.parametrize("name", PROVIDERS)
def test_provider_end_to_end(name: str, tmp_path: Path) -> None:
    with deployed(name, tmp_path) as deployment:
        a_signed_subscription_reaches_pendo(deployment)
        a_tampered_copy_is_refused_and_reaches_nothing(deployment)
        only_configured_providers_have_an_endpoint(deployment)
        a_get_is_answered_by_the_provider_s_challenge_only(deployment)


def a_signed_subscription_reaches_pendo(deployment: Deployment) -> None:
    body, headers = deployment.delivery()
    answer = deployment.post(body, headers)
    assert answer.status_code == 200, answer.text
    pendo = deployment.pendo
    values = wait_until(lambda: pendo.account_values(ACCOUNT).get("mrr") is not None and pendo.account_values(ACCOUNT))
    assert (values["billing_status"], values["mrr"], values["billing_currency"], values["billing_interval"]) == (
        "active", 49.0, "USD", "month")
    tracks = wait_until(pendo.track_events)
    assert [(t["event"], t["accountId"], t["visitorId"]) for t in tracks] == [
        ("Subscription Created", ACCOUNT, VISITOR)]
    assert f'"/webhooks/{deployment.name}"' in deployment.service.log_text()  # the start-up line names it


def _tampered(name: str, body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """The delivery changed after it was signed: the seat count, or for Braintree inside its signed payload.
    Chargebee signs no body: its copy is tampered in the credentials it carries."""
    if name == "chargebee":
        return body, {**headers, "authorization": authorization("hooks", "not-the-password")}
    if name == "braintree":
        fields = dict(parse_qsl(body.decode()))
        xml = base64.b64decode(fields["bt_payload"]).decode().replace("<quantity", "<quantity data-x=\"1\"", 1)
        fields["bt_payload"] = base64.encodebytes(xml.encode()).decode()
        return urlencode(fields).encode(), headers
    if name == "maxio":
        return body + b"&payload%5Bsubscription%5D%5Bstate%5D=canceled", headers
    payload = json.loads(body)
    payload["tampered"] = True
    return json.dumps(payload).encode(), headers


def a_tampered_copy_is_refused_and_reaches_nothing(deployment: Deployment) -> None:
    body, headers = deployment.delivery()
    stored, sent = deployment.stored(), len(deployment.pendo.requests)
    answer = deployment.post(*_tampered(deployment.name, body, headers))
    assert 400 <= answer.status_code < 500
    time.sleep(0.5)  # several worker polls
    assert deployment.stored() == stored and len(deployment.pendo.requests) == sent


def only_configured_providers_have_an_endpoint(deployment: Deployment) -> None:
    other = "stripe" if deployment.name == "paddle" else "paddle"
    assert deployment.post(b"{}", {"content-type": "application/json"}, other).status_code == 404


def a_get_is_answered_by_the_provider_s_challenge_only(deployment: Deployment) -> None:
    answer = requests.get(f"{deployment.service.url}/webhooks/{deployment.name}",
                          params={"bt_challenge": "0123456789abcdef0123"}, timeout=10)
    if deployment.name != "braintree":
        assert answer.status_code == 405
        return
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    public, _, signature = answer.text.partition("|")
    assert public == "contract_public_key"
    assert signature == braintree_sign("contract_private_key", "0123456789abcdef0123")

