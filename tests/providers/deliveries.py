"""Each provider's contract fixtures as its provider delivers them: the variables that configure the package, and the
headers that sign a body at a given time (tests/fixtures/contract/<name>/).

The contract suite and the end-to-end test of every provider share this one table, so a body is signed the same way
wherever it is sent. The signing follows each provider's own tests (tests/providers/<name>/), which cite its docs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.providers.chargebee.webhook import authorization
from bridge.providers.lemonsqueezy.webhook import sign as lemonsqueezy_sign
from bridge.providers.maxio.form import read_form
from bridge.providers.maxio.webhook import sign as maxio_sign
from bridge.providers.paddle.webhook import sign as paddle_sign
from bridge.providers.recurly.webhook import sign as recurly_sign
from bridge.providers.stripe.webhook import sign as stripe_sign

CONTRACT = Path(__file__).resolve().parents[1] / "fixtures" / "contract"
Headers = dict[str, str]


def _standard(secret: bytes, body: bytes, msg_id: str, now: float) -> Headers:
    """Standard Webhooks (Polar, and any standard sender): `v1,<base64 HMAC-SHA256 of "{id}.{ts}.{body}">`."""
    timestamp = int(now)
    digest = hmac.new(secret, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": "v1," + base64.b64encode(digest).decode(), "content-type": "application/json"}


@dataclass(frozen=True)
class Sender:
    """How one provider configures and signs its deliveries."""

    env: Mapping[str, str]  # the variables that turn its endpoint on (placeholder secrets)
    suffix: str  # the fixtures' format: .json or .form (form-encoded)
    sign: Callable[[bytes, float], Headers]  # the headers of a delivery of `body` sent at `now`

    def headers(self, body: bytes, now: float) -> Headers:
        return self.sign(body, now)


PADDLE_SECRET = "pdl_ntfset_01jcontractsecret00000000000_contractSigningKey"
POLAR_SECRET = "whsec_contractFixtureSecret1"
RECURLY_SECRET = "c0ffee" * 10 + "beef"
LEMONSQUEEZY_SECRET = "contract-signing-secret"
MAXIO_KEY = "contract_shared_key"
STANDARD_SECRET = "whsec_" + base64.b64encode(b"contract-standard-webhooks-key!!").decode()


def _maxio(body: bytes, now: float) -> Headers:
    return {"x-chargify-webhook-signature-hmac-sha-256": maxio_sign(body, MAXIO_KEY),
            "x-chargify-webhook-id": str(read_form(body)["id"]), "content-type": "application/x-www-form-urlencoded"}


SENDERS: dict[str, Sender] = {
    "stripe": Sender({"STRIPE_WEBHOOK_SECRET": "whsec_contract"}, ".json", lambda body, now: {
        "stripe-signature": f"t={int(now)},v1={stripe_sign(body, int(now), 'whsec_contract')}",
        "content-type": "application/json"}),
    "paddle": Sender({"PADDLE_WEBHOOK_SECRET": PADDLE_SECRET}, ".json", lambda body, now: {
        "paddle-signature": f"ts={int(now)};h1={paddle_sign(body, int(now), PADDLE_SECRET)}",
        "content-type": "application/json"}),
    "chargebee": Sender({"CHARGEBEE_WEBHOOK_USERNAME": "hooks", "CHARGEBEE_WEBHOOK_PASSWORD": "s3cret"}, ".json",
                        lambda body, now: {"authorization": authorization("hooks", "s3cret"),
                                           "content-type": "application/json"}),
    "polar": Sender({"POLAR_WEBHOOK_SECRET": POLAR_SECRET}, ".json",
                    lambda body, now: _standard(POLAR_SECRET.encode(), body,
                                                "evt-" + hashlib.sha256(body).hexdigest()[:16], now)),
    "standard": Sender({"STANDARD_WEBHOOK_SECRET": STANDARD_SECRET}, ".json",
                       lambda body, now: _standard(base64.b64decode(STANDARD_SECRET.removeprefix("whsec_")), body,
                                                   "msg_" + hashlib.sha256(body).hexdigest()[:16], now)),
    "recurly": Sender({"RECURLY_WEBHOOK_SECRET": RECURLY_SECRET}, ".json", lambda body, now: {
        "recurly-signature": f"{int(now * 1000)},{recurly_sign(body, int(now * 1000), RECURLY_SECRET)}",
        "content-type": "application/json"}),
    "lemonsqueezy": Sender({"LEMONSQUEEZY_WEBHOOK_SECRET": LEMONSQUEEZY_SECRET}, ".json", lambda body, now: {
        "x-signature": lemonsqueezy_sign(body, LEMONSQUEEZY_SECRET),
        "x-event-name": json.loads(body)["meta"]["event_name"], "content-type": "application/json"}),
    # Braintree's fixtures carry their own signature (`bt_signature`, keyed with the contract key pair).
    "braintree": Sender({"BRAINTREE_PUBLIC_KEY": "contract_public_key",
                         "BRAINTREE_PRIVATE_KEY": "contract_private_key"}, ".form",
                        lambda body, now: {"content-type": "application/x-www-form-urlencoded"}),
    "maxio": Sender({"MAXIO_WEBHOOK_SECRET": MAXIO_KEY}, ".form", _maxio),
}


def fixture(name: str, moment: str) -> bytes:
    """The body of `tests/fixtures/contract/<name>/<moment>.<json|form>`."""
    return (CONTRACT / name / f"{moment}{SENDERS[name].suffix}").read_bytes()


def has_fixtures(name: str) -> bool:
    return name in SENDERS and (CONTRACT / name / f"created{SENDERS[name].suffix}").exists()


def recorded_enrichment(name: str, moment: str, body: bytes) -> dict[str, Any]:
    """What the package's `enrichment` fetches for a fixture, as its API answered it: the recorded answers in
    `enrichment/<moment>.json`; for Chargebee its own copy of the event (what the re-fetch confirms); else nothing."""
    recorded = CONTRACT / name / "enrichment" / f"{moment}.json"
    if recorded.exists():
        loaded: dict[str, Any] = json.loads(recorded.read_text())
        return loaded
    if name == "chargebee":
        return {"event": json.loads(body)}
    return {}
