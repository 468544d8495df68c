"""What the web layer asks of a webhook object beyond verify and parse: `receive` when it has one, `challenge` for a
GET, and how it stores what a form post carried. Real packages, their contract fixtures, a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from bridge.providers import registry
from bridge.providers.braintree.webhook import sign as braintree_sign
from bridge.store.db import migrate
from bridge.web.app import create_app
from tests.conftest import make_settings, stripe_config
from tests.providers.deliveries import SENDERS, fixture
from tests.web.test_app import NOW, event, signed

PROVIDERS = ("stripe", "polar", "maxio", "braintree", "lemonsqueezy")


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    env = {key: value for name in PROVIDERS[1:] for key, value in SENDERS[name].env.items()}
    providers = {"stripe": stripe_config(), **registry.configure(env)}
    settings = make_settings(f"sqlite:///{tmp_path / 'bridge.db'}", providers=providers)
    migrate(settings)
    return create_app(settings, clock=lambda: NOW).test_client()


def stored(tmp_path: Path) -> list[tuple[str, str, str, str | None]]:
    engine = create_engine(f"sqlite:///{tmp_path / 'bridge.db'}")
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(  # type: ignore[misc]
                text("select provider, event_id, payload, detail from events order by id"))]
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", ["polar", "maxio"])
def test_a_provider_whose_id_is_a_header_is_received_with_its_headers(client: FlaskClient, tmp_path: Path,
                                                                     name: str) -> None:
    body = fixture(name, "created")
    headers = SENDERS[name].headers(body, NOW)
    answer = client.post(f"/webhooks/{name}", data=body, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    expected = headers["webhook-id"] if name == "polar" else headers["x-chargify-webhook-id"]
    assert answer.get_json()["event_id"] == expected  # the dedupe id came from the header: receive was called
    assert client.post(f"/webhooks/{name}", data=body, headers=headers).get_json()["duplicate"] is True


def test_a_json_body_is_stored_as_signed_and_a_form_as_its_payload_s_json(client: FlaskClient,
                                                                          tmp_path: Path) -> None:
    json_body, form_body = fixture("polar", "created"), fixture("maxio", "created")
    client.post("/webhooks/polar", data=json_body, headers=SENDERS["polar"].headers(json_body, NOW))
    client.post("/webhooks/maxio", data=form_body, headers=SENDERS["maxio"].headers(form_body, NOW))
    (_, _, polar_payload, _), (_, _, maxio_payload, _) = stored(tmp_path)
    assert polar_payload == json_body.decode()
    assert json.loads(maxio_payload)["payload"]["subscription"]["id"] == "71834529"


def test_the_sync_mark_is_refused_in_a_webhook(client: FlaskClient, tmp_path: Path) -> None:
    body = event(bridge_sync=True)
    answer = client.post("/webhooks/stripe", data=body, headers=signed(body))
    assert answer.status_code == 400 and "bridge_sync" in answer.get_json()["error"]
    assert stored(tmp_path) == []


def test_a_get_is_answered_by_the_challenge_of_a_provider_that_has_one(client: FlaskClient) -> None:
    answer = client.get("/webhooks/braintree?bt_challenge=0123456789abcdef0123")
    assert answer.status_code == 200 and answer.mimetype == "text/plain"
    assert answer.get_data(as_text=True) == (
        f"contract_public_key|{braintree_sign('contract_private_key', '0123456789abcdef0123')}")


@pytest.mark.parametrize(("path", "status"), [
    ("/webhooks/braintree?bt_challenge=not-hex", 400),  # the package refuses it
    ("/webhooks/braintree", 400),  # no value
    ("/webhooks/braintree?bt_challenge=0123456789abcdef0123&x=1", 400),  # two values
    ("/webhooks/stripe?bt_challenge=0123456789abcdef0123", 405),  # no challenge: POST only
    ("/webhooks/paddle?bt_challenge=0123456789abcdef0123", 404),  # not configured
])
def test_a_get_without_an_answerable_challenge(client: FlaskClient, path: str, status: int) -> None:
    answer = client.get(path)
    assert answer.status_code == status
    if status == 405:
        assert answer.headers["Allow"] == "POST"


def test_a_test_mode_event_is_stored_but_not_mapped_under_lemonsqueezy_mode_live(client: FlaskClient,
                                                                               tmp_path: Path) -> None:
    payload = json.loads(fixture("lemonsqueezy", "created"))
    payload["meta"]["test_mode"] = True
    body = json.dumps(payload).encode()
    assert client.post("/webhooks/lemonsqueezy", data=body,
                       headers=SENDERS["lemonsqueezy"].headers(body, NOW)).status_code == 200
    [(provider, _, _, detail)] = stored(tmp_path)
    assert provider == "lemonsqueezy" and "LEMONSQUEEZY_MODE=live" in (detail or "")
