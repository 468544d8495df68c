"""Delivery at Pendo's limits: linger, the shared budget and backoff, the track senders, alerts, visibility."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bridge.mapping.operations import MetadataUpdate
from bridge.ops import metrics
from bridge.ops.logs import JsonFormatter
from bridge.pendo import outbox as ob
from bridge.pendo.client import PendoClient
from bridge.pendo.delivery import Delivery
from bridge.pendo.outbox import Outbox
from bridge.settings import Settings
from bridge.store.db import make_engine, migrate
from bridge.store.schema import events, field_values
from bridge.store.store import Store
from bridge.web.app import create_app
from bridge.worker.loop import build_worker
from tests.conftest import Clock, make_settings
from tests.fakes.pendo import FakePendo
from tests.web.test_app import event, signed


def settings_for(url: str, pendo: FakePendo, **overrides: object) -> Settings:
    settings: Settings = make_settings(url, pendo_integration_key="key", pendo_track_secret="track",
                                       pendo_api_base=pendo.url, pendo_data_base=pendo.url, **overrides)
    migrate(settings)
    return settings


def build(url: str, pendo: FakePendo, clock: Clock, **overrides: object) -> Delivery:
    settings = settings_for(url, pendo, **overrides)
    store = Store(make_engine(settings))
    return Delivery(settings, store, Outbox(store.engine), PendoClient(settings, timeout=5), "w1", clock,
                    sleep=clock.advance)


def put(delivery: Delivery, entity: str, values: dict[str, object], source_time: int = 1) -> None:
    with delivery.store.transaction() as connection:
        ob.enqueue_metadata(connection, MetadataUpdate("account", entity, values, source_time), f"evt_{entity}",
                            "v1", now=delivery.clock())


def put_tracks(delivery: Delivery, count: int) -> None:
    now_ms = int(delivery.clock() * 1000)
    with delivery.store.transaction() as connection:
        for n in range(count):
            payload = {"type": "track", "event": "Invoice Paid", "visitorId": f"v{n}", "timestamp": now_ms,
                       "properties": {}, "context": {}}
            ob.enqueue_track(connection, f"evt_{n}", "r", payload, now_ms, "v1", delivery.clock())


def test_pacing_metadata_lingers_then_goes_as_one_request(sqlite_url: str, pendo: FakePendo) -> None:
    clock = Clock()
    delivery = build(sqlite_url, pendo, clock, metadata_linger_seconds=1.0)
    put(delivery, "acme", {"mrr": 1})
    clock.now += 0.5
    assert delivery.send_metadata() == 0
    for n in range(5):
        put(delivery, f"other-{n}", {"mrr": n}, source_time=2)
        put(delivery, "acme", {"mrr": 10 + n}, source_time=2 + n)
    clock.now += 0.6
    assert delivery.send_metadata() == 6
    assert len(pendo.calls("/api/v1/metadata")) == 1
    assert pendo.account_values("acme") == {"mrr": 14}


def test_pacing_full_batch_goes_without_lingering(sqlite_url: str, pendo: FakePendo) -> None:
    clock = Clock()
    delivery = build(sqlite_url, pendo, clock, metadata_linger_seconds=60.0, metadata_batch_size=3)
    for n in range(2):
        put(delivery, f"a{n}", {"mrr": n})
    assert delivery.send_metadata() == 0
    put(delivery, "a2", {"mrr": 2})
    assert delivery.send_metadata() == 3


def test_pacing_a_backlog_of_full_batches_goes_out_in_one_step(sqlite_url: str, pendo: FakePendo) -> None:
    clock = Clock()
    delivery = build(sqlite_url, pendo, clock, metadata_linger_seconds=60.0, metadata_batch_size=3)
    for n in range(8):
        put(delivery, f"a{n}", {"mrr": n})
    assert delivery.send_metadata() == 6  # two full batches; the last two rows linger
    assert len(pendo.calls("/api/v1/metadata")) == 2


def test_pacing_without_a_budget_slot_nothing_is_claimed(sqlite_url: str, pendo: FakePendo) -> None:
    clock = Clock()
    delivery = build(sqlite_url, pendo, clock, metadata_linger_seconds=0.0, metadata_batch_size=2,
                     pendo_requests_per_second=1.0)
    start = clock.now
    for n in range(4):
        put(delivery, f"a{n}", {"mrr": n})
    assert delivery.send_metadata() == 2  # one slot per second: the second batch waits, unclaimed
    assert delivery.send_metadata() == 0
    with delivery.store.engine.connect() as connection:
        claimed = connection.execute(select(field_values.c.claimed_by)).scalars().all()
    assert claimed == [None] * 4 and clock.now == start
    clock.now += 1.0
    assert delivery.send_metadata() == 2
    assert len(pendo.calls("/api/v1/metadata")) == 2
    assert delivery.outbox.counts()["metadata"] == {ob.DELIVERED: 4}


def test_pacing_rows_failing_together_share_one_wait(database_url: str, pendo: FakePendo) -> None:
    clock = Clock()
    delivery = build(database_url, pendo, clock, metadata_linger_seconds=0.0, retry_base_seconds=2.0,
                     retry_max_seconds=8.0)
    for n in range(50):
        put(delivery, f"acct-{n}", {"mrr": n})
    pendo.fail_next(1, status=503)
    assert delivery.send_metadata() == 50
    with delivery.store.engine.connect() as connection:
        retry_times = set(connection.execute(select(field_values.c.next_attempt_at)).scalars())
    assert len(retry_times) == 1  # one backoff for all fifty rows
    wait = delivery.budget.blocked_for("metadata", clock.now)  # type: ignore[union-attr]
    assert 1.0 <= wait <= 2.0
    assert delivery.send_metadata() == 0 and len(pendo.calls("/api/v1/metadata")) == 1
    clock.now += wait
    assert delivery.send_metadata() == 50
    assert len(pendo.calls("/api/v1/metadata")) == 2
    assert delivery.outbox.counts()["metadata"] == {ob.DELIVERED: 50}


def test_pacing_tracks_sent_concurrently_and_429_waited_out(sqlite_url: str, pendo: FakePendo) -> None:
    clock = Clock()
    delivery = build(sqlite_url, pendo, clock, track_concurrency=3)
    put_tracks(delivery, 12)
    pendo.fail_next(1, status=429, retry_after=3, path_prefix="/data/track")
    pendo.latency = 0.05
    delivery.send_tracks()
    pendo.latency = 0.0
    sent = len(pendo.calls("/data/track"))
    assert 1 <= sent <= 6  # the failure stops the rest; only calls already under way went out
    clock.now += 2.9
    assert delivery.send_tracks() == 0 and len(pendo.calls("/data/track")) == sent
    clock.now += 0.2
    for _ in range(5):
        delivery.send_tracks()
        clock.now += 1
    assert sorted(t["visitorId"] for t in pendo.track_events()) == sorted(f"v{n}" for n in range(12))
    assert delivery.outbox.counts()["track"] == {ob.DELIVERED: 12}
    delivery.close()


def test_pacing_forced_failure_shows_in_status_metrics_and_alert(sqlite_url: str, pendo: FakePendo,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    delivery = build(sqlite_url, pendo, clock, metadata_linger_seconds=0.0)
    put(delivery, "acme", {"mrr": 1})
    pendo.fail_next(1, status=400)
    with caplog.at_level(logging.ERROR, logger="bridge.alerts"):
        delivery.send_metadata()
    [line] = caplog.records
    assert line.alert == "permanent_failure" and line.event_id == "evt_acme" and "400" in line.reason
    snapshot = metrics.collect(delivery.settings, delivery.store, clock.now)
    assert snapshot["states"]["failed"] == 1
    [failure] = snapshot["recent_failures"]
    assert failure["id"] == "acme" and "Pendo answered 400" in failure["reason"]
    assert "injected 400" in failure["reason"]  # Pendo's own answer
    assert snapshot["budget"]["endpoints"]["metadata"]["requests_total"] == 1
    text = metrics.render(snapshot)
    assert 'bridge_state_rows{state="failed"} 1' in text
    assert 'bridge_pendo_requests_total{endpoint="metadata"} 1' in text


def test_pacing_lag_breach_alerts_once(sqlite_url: str, pendo: FakePendo, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    settings = settings_for(sqlite_url, pendo, lag_alert_seconds=60.0)
    worker = build_worker(settings, clock=clock)
    worker.delivery.sleep = clock.advance
    pendo.set_auth_ok(False)  # nothing can be delivered
    put(worker.delivery, "acme", {"mrr": 1})
    with caplog.at_level(logging.ERROR):
        for _ in range(4):
            clock.now += 40
            worker.run_once()
    lag_lines = [r for r in caplog.records if getattr(r, "alert", None) == "lag"]
    assert len(lag_lines) == 1 and lag_lines[0].lag_seconds > 60
    worker.delivery.close()


def test_pacing_request_id_stored_and_on_the_workers_lines(tmp_path: Path, pendo: FakePendo,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    settings = settings_for(url, pendo)
    client = create_app(settings, clock=lambda: 1_760_000_000).test_client()
    body = event(type="customer.subscription.updated")
    answer = client.post("/webhooks/stripe", data=body, headers={**signed(body), "X-Request-ID": "req-42"})
    assert answer.status_code == 200
    with make_engine(settings).connect() as connection:
        assert connection.execute(select(events.c.request_id)).scalar_one() == "req-42"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)
    try:
        worker = build_worker(settings, clock=lambda: 1_760_000_001)
        assert worker.map_batch() == 1
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    about = [line for line in lines if line.get("event_id") == "evt_1"]
    assert about and all(line["request_id"] == "req-42" for line in about)


def metrics_client(tmp_path: Path, **overrides: object) -> FlaskClient:
    settings = make_settings(f"sqlite:///{tmp_path / 'bridge.db'}", **overrides)
    migrate(settings)
    return create_app(settings).test_client()


def test_pacing_metrics_off_without_token_and_behind_it(tmp_path: Path) -> None:
    assert metrics_client(tmp_path).get("/metrics").status_code == 404
    client = metrics_client(tmp_path, metrics_token="s3cret")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert answer.status_code == 200 and answer.content_type.startswith("text/plain; version=0.0.4")
    text = answer.get_data(as_text=True)
    assert "# TYPE bridge_lag_seconds gauge" in text and "bridge_pendo_budget_requests_per_second 20" in text
    assert "s3cret" not in text
