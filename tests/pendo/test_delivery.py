"""Delivery against a fake Pendo on loopback and a real database: Pendo's answers, row by row."""

from __future__ import annotations

import logging

import pytest

from bridge.mapping.operations import MetadataUpdate
from bridge.pendo import outbox as ob
from bridge.pendo.client import PendoClient
from bridge.pendo.delivery import Delivery
from bridge.pendo.outbox import Outbox
from bridge.settings import Settings
from bridge.store.db import make_engine, migrate
from bridge.store.store import Store
from tests.conftest import Clock, make_settings
from tests.e2e.harness import free_port
from tests.fakes.pendo import FakePendo


def build(database_url: str, pendo: FakePendo | str, clock: Clock, **overrides: object) -> Delivery:
    url = pendo if isinstance(pendo, str) else pendo.url
    values: dict[str, object] = {"metadata_linger_seconds": 0.0, "pendo_track_secret": "track",
                                 **overrides}  # linger: tests/pendo/test_pacing.py
    settings: Settings = make_settings(database_url, pendo_integration_key="key", pendo_api_base=url,
                                       pendo_data_base=url, **values)
    migrate(settings)
    store = Store(make_engine(settings))
    return Delivery(settings, store, Outbox(store.engine), PendoClient(settings, timeout=5), "w1", clock,
                    sleep=clock.advance)


@pytest.fixture
def delivery(database_url: str, pendo: FakePendo, clock: Clock) -> Delivery:
    return build(database_url, pendo, clock)


def put(delivery: Delivery, entity: str, values: dict[str, object], source_time: int = 1, create: bool = False,
        kind: str = "account") -> None:
    with delivery.store.transaction() as connection:
        op = MetadataUpdate(kind, entity, values, source_time, create=create)
        ob.enqueue_metadata(connection, op, "evt", "v1", now=delivery.clock())


def states(delivery: Delivery) -> dict[str, int]:
    return delivery.outbox.counts()["metadata"]


def test_delivery_sends_one_bulk_request_per_kind(delivery: Delivery, pendo: FakePendo) -> None:
    for n in range(5):
        put(delivery, f"acct-{n}", {"mrr": n, "billing_plan": "pro"})
    put(delivery, "visitor-1", {"role": "owner"}, kind="visitor")
    assert delivery.send_metadata() == 6
    assert len(pendo.calls("/api/v1/metadata/account")) == 1
    assert len(pendo.calls("/api/v1/metadata/visitor")) == 1
    assert pendo.account_values("acct-3") == {"mrr": 3, "billing_plan": "pro"}
    assert states(delivery) == {ob.DELIVERED: 11}


def test_delivery_missing_id_waits_and_arrives_when_known(delivery: Delivery, pendo: FakePendo,
                                                          clock: Clock) -> None:
    pendo.know_only("account", {"known"})
    put(delivery, "known", {"mrr": 1})
    put(delivery, "newco", {"mrr": 2})
    delivery.send_metadata()
    assert states(delivery) == {ob.DELIVERED: 1, ob.WAITING: 1}
    assert "create" not in pendo.calls("/api/v1/metadata/account")[0].query
    pendo.add_known_account("newco")
    clock.now += 10
    delivery.send_metadata()
    assert pendo.account_values("newco") == {"mrr": 2}


def test_delivery_missing_id_fails_after_the_window(database_url: str, pendo: FakePendo, clock: Clock) -> None:
    delivery = build(database_url, pendo, clock, pendo_missing_window_hours=1.0)
    pendo.know_only("account", set())
    put(delivery, "ghost", {"mrr": 2})
    delivery.send_metadata()
    clock.now += 3 * 3600
    delivery.send_metadata()
    assert states(delivery) == {ob.FAILED: 1}


def test_delivery_create_true_only_for_rows_allowed_to_create(delivery: Delivery, pendo: FakePendo) -> None:
    pendo.know_only("account", set())
    put(delivery, "explicit", {"mrr": 2}, create=True)
    delivery.send_metadata()
    assert pendo.calls("/api/v1/metadata/account")[0].query.get("create") == ["true"]
    assert pendo.account_values("explicit") == {"mrr": 2}


def test_delivery_unknown_field_is_held_not_failed(database_url: str, clock: Clock) -> None:
    with FakePendo(integration_key="key", track_secret="track", fields={"account": {"mrr": "number"}}) as pendo:
        delivery = build(database_url, pendo, clock)
        put(delivery, "acme", {"mrr": 3, "plann": "pro"})
        delivery.send_metadata()
        assert delivery.outbox.held_fields() == {"account": {"plann"}}
        clock.now += 10
        delivery.send_metadata()
        assert pendo.account_values("acme") == {"mrr": 3}
        pendo.add_field("account", "plann")
        delivery.release_held()
        clock.now += 10
        delivery.send_metadata()
        assert pendo.account_values("acme") == {"mrr": 3, "plann": "pro"}


def test_delivery_transient_failure_retries_with_backoff(delivery: Delivery, pendo: FakePendo,
                                                         clock: Clock) -> None:
    pendo.fail_next(1, status=503)
    put(delivery, "acme", {"mrr": 1})
    delivery.send_metadata()
    assert states(delivery) == {ob.PENDING: 1}
    assert delivery.send_metadata() == 0  # not due yet
    clock.now += 5
    delivery.send_metadata()
    assert states(delivery) == {ob.DELIVERED: 1}


def test_delivery_retry_after_is_honoured(delivery: Delivery, pendo: FakePendo, clock: Clock) -> None:
    pendo.fail_next(1, status=429, retry_after=30)
    put(delivery, "acme", {"mrr": 1})
    delivery.send_metadata()
    clock.now += 20
    assert delivery.send_metadata() == 0
    clock.now += 11
    assert delivery.send_metadata() == 1


def test_delivery_auth_refusal_pauses_and_resumes(delivery: Delivery, pendo: FakePendo) -> None:
    pendo.set_auth_ok(False)
    put(delivery, "acme", {"mrr": 1})
    delivery.send_metadata()
    assert delivery.paused() is not None
    assert states(delivery) == {ob.PENDING: 1}
    assert delivery.try_resume() is False
    pendo.set_auth_ok(True)
    assert delivery.try_resume() is True and delivery.paused() is None
    delivery.send_metadata()
    assert states(delivery) == {ob.DELIVERED: 1}


def test_delivery_read_only_key_pauses(delivery: Delivery, pendo: FakePendo) -> None:
    pendo.write_access = False
    assert delivery.try_resume() is False
    assert "write access" in (delivery.paused() or "")


def test_delivery_track_sent_with_track_secret_and_expired_not_sent(delivery: Delivery, pendo: FakePendo,
                                                                    clock: Clock) -> None:
    now_ms = int(clock.now * 1000)
    with delivery.store.transaction() as connection:
        payload = {"type": "track", "event": "Invoice Paid", "visitorId": "v", "timestamp": now_ms,
                   "properties": {}, "context": {}}
        ob.enqueue_track(connection, "evt_1", "r", payload, now_ms, "v1", clock.now)
        old = dict(payload, timestamp=now_ms - 8 * 86400 * 1000)
        ob.enqueue_track(connection, "evt_2", "r", old, old["timestamp"], "v1", clock.now)
    assert delivery.send_tracks() == 2
    assert [t["event"] for t in pendo.track_events()] == ["Invoice Paid"]
    assert delivery.outbox.counts()["track"] == {ob.DELIVERED: 1, ob.EXPIRED: 1}


def put_track(delivery: Delivery, event_id: str, age_ms: int = 0) -> None:
    now_ms = int(delivery.clock() * 1000)
    payload = {"type": "track", "event": "Invoice Paid", "visitorId": "v", "timestamp": now_ms - age_ms,
               "properties": {}, "context": {}}
    with delivery.store.transaction() as connection:
        ob.enqueue_track(connection, event_id, "r", payload, now_ms - age_ms, "v1", delivery.clock())


def auth_faults(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "alert", None) == "auth_fault"]


def test_delivery_pendo_out_of_reach_at_start_is_no_auth_fault(sqlite_url: str, clock: Clock,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    delivery = build(sqlite_url, f"http://127.0.0.1:{free_port()}", clock)  # nothing listens: refused
    assert delivery.try_resume() is True  # sending goes on; its own failures are retried as usual
    assert delivery.paused() is None and auth_faults(caplog) == []
    assert any("could not be reached" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_delivery_pendo_out_of_reach_keeps_a_pause_without_a_new_alert(sqlite_url: str, clock: Clock,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    delivery = build(sqlite_url, f"http://127.0.0.1:{free_port()}", clock)
    delivery.store.set_control("pendo_paused", "Pendo answered 403", clock.now)
    assert delivery.try_resume() is False
    assert delivery.paused() == "Pendo answered 403" and auth_faults(caplog) == []


def test_delivery_pendo_5xx_on_verify_is_no_auth_fault(delivery: Delivery, pendo: FakePendo,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    pendo.fail_next(1, status=503, path_prefix="/api/v1/token")
    assert delivery.try_resume() is True and delivery.paused() is None and auth_faults(caplog) == []


def test_delivery_refused_track_secret_holds_tracks_only_until_a_track_is_accepted(
        database_url: str, pendo: FakePendo, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    delivery = build(database_url, pendo, clock, pendo_track_secret="wrong")
    put_track(delivery, "evt_1")
    put(delivery, "acme", {"mrr": 1})
    delivery.send_tracks()
    assert delivery.tracks_paused() is not None and delivery.paused() is None
    assert len(auth_faults(caplog)) == 1 and "PENDO_TRACK_EVENT_SECRET" in auth_faults(caplog)[0].getMessage()
    assert delivery.send_metadata() == 1 and pendo.account_values("acme") == {"mrr": 1}  # metadata goes on
    assert delivery.try_resume() is True and delivery.tracks_paused() is not None  # the key says nothing of it
    clock.advance(20)
    assert delivery.probe_tracks() is False  # the probe is refused again: still held, no second alert
    assert len(auth_faults(caplog)) == 1 and delivery.tracks_paused() is not None
    pendo.track_secret = "wrong"  # the admin sets Pendo's secret to the one configured
    clock.advance(20)
    assert delivery.probe_tracks() is True
    assert delivery.tracks_paused() is None and [t["event"] for t in pendo.track_events()] == ["Invoice Paid"]


def test_delivery_track_probe_skips_expired_events(delivery: Delivery, pendo: FakePendo) -> None:
    delivery.store.set_control("pendo_track_paused", "403", delivery.clock())
    put_track(delivery, "evt_old", age_ms=8 * 86400 * 1000)
    put_track(delivery, "evt_new")
    assert delivery.probe_tracks() is True
    assert delivery.outbox.counts()["track"] == {ob.DELIVERED: 1, ob.EXPIRED: 1}


def test_delivery_track_probe_with_nothing_to_send_keeps_the_pause(delivery: Delivery) -> None:
    delivery.store.set_control("pendo_track_paused", "403", delivery.clock())
    assert delivery.probe_tracks() is False and delivery.tracks_paused() == "403"


def test_delivery_a_track_event_our_code_cannot_send_fails_alone(delivery: Delivery, pendo: FakePendo, clock: Clock,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    now_ms = int(clock.now * 1000)
    with delivery.store.transaction() as connection:
        for name in ("first", "bad", "last"):
            payload = {"type": "track", "event": name, "visitorId": "v", "timestamp": now_ms, "properties": {},
                       "context": {}}
            ob.enqueue_track(connection, f"evt_{name}", "r", payload, now_ms, "v1", clock.now)
    real = delivery.client.send_track

    def send_track(payload: dict[str, object]) -> None:
        if payload["event"] == "bad":
            raise TypeError("a payload our client cannot send")
        real(payload)
    monkeypatch.setattr(delivery.client, "send_track", send_track)
    assert delivery.send_tracks() == 3
    assert sorted(t["event"] for t in pendo.track_events()) == ["first", "last"]
    assert delivery.outbox.counts()["track"] == {ob.DELIVERED: 2, ob.FAILED: 1}
    [failure] = delivery.outbox.recent_failures(10)
    assert failure["event_id"] == "evt_bad" and failure["reason"].startswith("could not be sent: TypeError")


def test_delivery_metadata_our_code_cannot_send_fails_alone(delivery: Delivery, pendo: FakePendo,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for entity in ("acct-1", "bad", "acct-3"):
        put(delivery, entity, {"mrr": 1})
    real = delivery.client.send_metadata

    def send_metadata(kind: str, rows: list[tuple[str, dict[str, object]]], create: bool = False) -> object:
        if any(entity == "bad" for entity, _ in rows):
            raise ValueError("a value our client cannot send")
        return real(kind, rows, create=create)
    monkeypatch.setattr(delivery.client, "send_metadata", send_metadata)
    delivery.send_metadata()
    assert pendo.account_values("acct-1") == {"mrr": 1} and pendo.account_values("acct-3") == {"mrr": 1}
    assert states(delivery) == {ob.DELIVERED: 2, ob.FAILED: 1}
    [failure] = delivery.outbox.recent_failures(10)
    assert failure["id"] == "bad" and failure["reason"].startswith("could not be sent: ValueError")
