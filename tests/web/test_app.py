"""The webhook endpoint, liveness and readiness, through Flask's test client and a real SQLite file."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import stripe
from flask import Flask
from flask.testing import FlaskClient

from bridge.store.db import migrate
from bridge.store.store import Incoming, Store
from bridge.web.app import create_app
from bridge.web.ingest import STUCK_COMMIT_SECONDS
from tests.conftest import SECRET, Clock, make_settings

NOW = 1_760_000_000


def event(**overrides: Any) -> bytes:
    body = {"id": "evt_1", "object": "event", "type": "customer.subscription.created", "created": NOW,
            "livemode": True, "api_version": "2025-03-31.basil",
            "data": {"object": {"object": "subscription", "id": "sub_1", "customer": "cus_1"}}}
    body.update(overrides)
    return json.dumps(body).encode()


def signed(body: bytes, secret: str = SECRET, timestamp: int = NOW) -> dict[str, str]:
    return {"Stripe-Signature": stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp=timestamp)}


def app_for(tmp_path: Path, clock: Callable[[], float] = lambda: NOW, **overrides: Any) -> Flask:
    settings = make_settings(f"sqlite:///{tmp_path / 'bridge.db'}", **overrides)
    migrate(settings)
    return create_app(settings, clock=clock)


def client_for(tmp_path: Path, **overrides: Any) -> FlaskClient:
    return app_for(tmp_path, **overrides).test_client()


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    return client_for(tmp_path)


def test_web_webhook_stores_and_acknowledges(client: FlaskClient) -> None:
    answer = client.post("/webhooks/stripe", data=event(), headers=signed(event()))
    assert answer.status_code == 200
    assert answer.get_json() == {"received": True, "event_id": "evt_1", "duplicate": False}
    again = client.post("/webhooks/stripe", data=event(), headers=signed(event()))
    assert again.get_json()["duplicate"] is True


def test_web_webhook_echoes_request_id(client: FlaskClient) -> None:
    answer = client.post("/webhooks/stripe", data=event(), headers={**signed(event()), "X-Request-ID": "abc"})
    assert answer.headers["X-Request-ID"] == "abc"


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [({}, event(), 400), (signed(event(), "whsec_other"), event(), 400),
     (signed(event(), timestamp=NOW - 301), event(), 400), (signed(event(), timestamp=NOW + 301), event(), 400),
     (signed(b"nope"), b"nope", 400), (signed(b'{"id": "x"}'), b'{"id": "x"}', 400)],
)
def test_web_webhook_refuses_bad_requests(client: FlaskClient, headers: dict[str, str], body: bytes,
                                          status: int) -> None:
    answer = client.post("/webhooks/stripe", data=body, headers=headers)
    assert answer.status_code == status
    assert set(answer.get_json()) == {"error"}
    assert SECRET not in answer.get_data(as_text=True)


def test_web_webhook_refuses_oversized_body_by_its_length(tmp_path: Path) -> None:
    client = client_for(tmp_path, max_body_bytes=2048)
    body = event(pad="x" * 4096)
    answer = client.post("/webhooks/stripe", data=body, headers=signed(body))
    assert answer.status_code == 413


def test_web_webhook_never_redirects(client: FlaskClient) -> None:
    answer = client.post("/webhooks/stripe/", data=event(), headers=signed(event()))
    assert answer.status_code == 200


def test_web_unknown_provider_is_404(client: FlaskClient) -> None:
    assert client.post("/webhooks/paddle", data=b"{}").status_code == 404


def test_web_store_failure_is_503(tmp_path: Path) -> None:
    client = client_for(tmp_path)
    (tmp_path / "bridge.db").unlink()
    (tmp_path / "bridge.db").mkdir()  # the file is gone and cannot come back: nothing commits
    answer = client.post("/webhooks/stripe", data=event(), headers=signed(event()))
    assert answer.status_code == 503


def test_web_healthz_and_readyz(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"ready": True, "checks": {"database": "ok", "mappings": "ok", "ingest": "ok"}}


def test_web_readyz_reports_broken_mappings_by_name_only_but_still_stores(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broken = tmp_path / "mappings"
    broken.mkdir()
    (broken / "bad.yaml").write_text("rules: [{name: x}]\n")
    client = client_for(tmp_path, mappings_dir=broken)
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json() == {"ready": False, "checks": {"database": "ok", "mappings": "failed", "ingest": "ok"}}
    assert "bad.yaml" not in ready.get_data(as_text=True)
    assert any("bad.yaml" in str(getattr(record, "reason", "")) for record in caplog.records)  # for the operator
    assert client.post("/webhooks/stripe", data=event(), headers=signed(event())).status_code == 200


def test_web_readyz_reports_a_lost_database_without_its_error(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    client = client_for(tmp_path)
    (tmp_path / "bridge.db").unlink()
    (tmp_path / "bridge.db").mkdir()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["checks"]["database"] == "failed"
    assert "sqlite" not in ready.get_data(as_text=True).lower()
    assert "not ready: the database does not answer" in caplog.text


def test_web_readyz_reports_a_commit_stuck_for_too_long(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    clock.now = NOW
    app = app_for(tmp_path, clock)
    release = threading.Event()
    real = Store.ingest_many

    def slow(self: Store, batch: Sequence[Incoming]) -> list[bool]:
        release.wait(10)
        return real(self, batch)

    monkeypatch.setattr(Store, "ingest_many", slow)
    answers: list[int] = []
    poster = threading.Thread(target=lambda: answers.append(
        app.test_client().post("/webhooks/stripe", data=event(), headers=signed(event())).status_code))
    poster.start()
    time.sleep(0.2)
    assert app.test_client().get("/readyz").status_code == 200  # a commit under way is no fault
    clock.advance(STUCK_COMMIT_SECONDS + 1)
    stuck = app.test_client().get("/readyz")
    assert stuck.status_code == 503 and stuck.get_json()["checks"]["ingest"] == "stuck"
    release.set()
    poster.join(10)
    assert answers == [200]
    assert app.test_client().get("/readyz").status_code == 200


def test_web_readyz_does_not_depend_on_pendo(tmp_path: Path) -> None:
    client = client_for(tmp_path, pendo_api_base="http://127.0.0.1:9", pendo_integration_key="bad")
    assert client.get("/readyz").status_code == 200


def test_web_clock_is_the_injected_one(tmp_path: Path) -> None:
    assert abs(time.time() - NOW) > 300  # the signature is only valid against the injected clock
    client = client_for(tmp_path)
    assert client.post("/webhooks/stripe", data=event(), headers=signed(event())).status_code == 200


def post_within(client: FlaskClient, body: bytes, seconds: float = 10.0) -> int | None:
    """Post in a thread; None when no answer came within `seconds` (a wedged ingest)."""
    answers: list[int] = []
    thread = threading.Thread(target=lambda: answers.append(
        client.post("/webhooks/stripe", data=body, headers=signed(body)).status_code), daemon=True)
    thread.start()
    thread.join(seconds)
    return answers[0] if answers else None


@pytest.mark.parametrize(
    ("name", "value"),
    [("id", "evt_\ud800"), ("id", "evt_" + "x" * 300), ("id", "evt_\u0000"), ("id", ""), ("type", "t" * 256),
     ("type", "invoice.\ndeleted"), ("created", float("nan")), ("created", float("inf")), ("created", -1),
     ("created", 10**400), ("api_version", "v" * 65), ("account", "acct_\udc00")],
)
def test_web_event_the_store_cannot_hold_is_400_and_ingest_goes_on(client: FlaskClient, name: str,
                                                                   value: object) -> None:
    body = event(**{name: value})
    assert post_within(client, body) == 400
    good = event(id="evt_after")
    assert post_within(client, good) == 200


@pytest.mark.parametrize("depth", [65, 100_000])
def test_web_deeply_nested_body_is_400(client: FlaskClient, depth: int) -> None:
    body = event(data={"object": {"object": "subscription", "items": "HOLE"}}).replace(
        b'"HOLE"', b"[" * depth + b"]" * depth)
    answer = client.post("/webhooks/stripe", data=body, headers=signed(body))
    assert answer.status_code == 400 and "deeper" in answer.get_json()["error"]


def test_web_replayed_signature_with_a_fresh_timestamp_prepended_is_400(client: FlaskClient) -> None:
    old = NOW - 10 * 86400
    captured = signed(event(), timestamp=old)["Stripe-Signature"]
    signature = captured.split("v1=")[1]
    for header in (f"v1={signature}, t={NOW},{captured}", f"t={NOW},{captured}"):
        answer = client.post("/webhooks/stripe", data=event(), headers={"Stripe-Signature": header})
        assert answer.status_code == 400
        assert signature not in answer.get_data(as_text=True)
    assert client.post("/webhooks/stripe", data=event(), headers=signed(event())).get_json()["duplicate"] is False
