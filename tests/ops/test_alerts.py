"""Alerts: one ERROR line each, a rate-limited webhook shared by every process, and never a leaked URL."""

from __future__ import annotations

import json
import logging

import pytest
import requests
import responses

from bridge.ops import alerts
from bridge.ops.alerts import Alerts
from bridge.settings import Settings
from bridge.store.db import make_engine, migrate
from tests.conftest import make_settings

HOOK = "http://127.0.0.1:9/hooks/T000/B000/very-secret-token"


class Clock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


def alerter(sqlite_url: str, clock: Clock, **overrides: object) -> Alerts:
    settings: Settings = make_settings(sqlite_url, **{"alert_webhook_url": HOOK, **overrides})
    migrate(settings)
    return Alerts(settings, make_engine(settings), clock)


@responses.activate
def test_alerts_one_message_per_condition_per_period(sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    responses.add(responses.POST, HOOK, status=200)
    clock = Clock()
    first, second = alerter(sqlite_url, clock), alerter(sqlite_url, clock)  # two processes
    with caplog.at_level(logging.ERROR, logger="bridge.alerts"):
        posted = [a.fire(alerts.PERMANENT_FAILURE, "Pendo refused", event_id=f"evt_{n}")
                  for n, a in enumerate([first, second] * 50)]
        assert posted.count(True) == 1
        assert first.fire(alerts.AUTH_FAULT, "key refused") is True  # another condition has its own limit
        clock.now += 601
        assert second.fire(alerts.PERMANENT_FAILURE, "Pendo refused again") is True
    assert len(caplog.records) == 102  # every alert is an ERROR line, posted or not
    assert caplog.records[0].alert == alerts.PERMANENT_FAILURE and caplog.records[0].event_id == "evt_0"
    bodies = [json.loads(call.request.body) for call in responses.calls]
    assert len(bodies) == 3 and set(bodies[0]) == {"text"}
    assert "99 similar alerts not posted" in bodies[2]["text"]


@responses.activate
def test_alerts_global_cap_bounds_an_outage(sqlite_url: str) -> None:
    responses.add(responses.POST, HOOK, status=200)
    clock = Clock()
    alert = alerter(sqlite_url, clock)
    for n in range(40):
        alert.fire(f"{alerts.CONFIG_FAULT}:{n}", "field missing")
    assert len(responses.calls) == alerts.GLOBAL_CAP
    clock.now += alerts.GLOBAL_PERIOD + 1
    assert alert.fire(alerts.LAG, "lagging") is True


@responses.activate
def test_alerts_failed_post_never_raises_nor_logs_the_url(sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    responses.add(responses.POST, HOOK, body=requests.ConnectionError(f"cannot reach {HOOK}"))
    with caplog.at_level(logging.WARNING):
        assert alerter(sqlite_url, Clock()).fire(alerts.AUTH_FAULT, "key refused") is False
    assert "very-secret-token" not in caplog.text
    assert any(r.getMessage() == "the alert webhook could not be reached" for r in caplog.records)


def test_alerts_without_a_url_only_log(sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        assert alerter(sqlite_url, Clock(), alert_webhook_url=None).fire(alerts.LAG, "lagging") is False
    assert [r.levelname for r in caplog.records] == ["ERROR"]
