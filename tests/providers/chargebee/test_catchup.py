"""`bridge catchup chargebee`: Chargebee's `GET /events` paged with `responses`, then end to end against a fake."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers
from sqlalchemy import select

from bridge.errors import ConfigError
from bridge.providers import chargebee, registry
from bridge.providers.chargebee.api import PAGE_SIZE, ChargebeeApi
from bridge.providers.chargebee.catchup import ChargebeeEventLog
from bridge.providers.chargebee.webhook import ChargebeeProvider
from bridge.store.db import make_engine, migrate
from bridge.store.schema import events
from bridge.store.store import Store
from bridge.sync.catchup import Catchup, iso
from tests.conftest import make_settings
from tests.providers.chargebee.fake_chargebee import FakeChargebee

BASE = "https://acme.chargebee.com/api/v2"
KEY = "test_readonly_key"
SAMPLES = Path(__file__).resolve().parents[3] / "bridge" / "providers" / "chargebee" / "samples"
SAMPLE = SAMPLES / "subscription_created.json"
NOW = 1_767_300_000


def cb_event(number: int, occurred: int, status: str = "succeeded") -> dict[str, Any]:
    """A listed event: the sample webhook body with its own id, time and webhook status."""
    made = copy.deepcopy(json.loads(SAMPLE.read_text()))
    made.update(id=f"ev_{number:05d}", occurred_at=occurred, webhook_status=status)
    return made


def log() -> ChargebeeEventLog:
    return ChargebeeEventLog(ChargebeeApi(BASE, KEY, sleep=lambda _: None))


def asked(**extra: str) -> Any:
    return matchers.query_param_matcher({"limit": str(PAGE_SIZE), "sort_by[desc]": "occurred_at", **extra})


@responses.activate
def test_pages_newest_first_after_the_start_with_the_offset_cursor() -> None:
    auth = matchers.header_matcher({"Authorization": "Basic dGVzdF9yZWFkb25seV9rZXk6"})  # key:"" in base64
    first = [cb_event(n, NOW - 10 * (9 - n)) for n in (9, 8)]
    responses.get(f"{BASE}/events", json={"list": [{"event": e} for e in first], "next_offset": '["17","9"]'},
                  match=[asked(**{"occurred_at[after]": str(NOW - 101)}), auth])
    responses.get(f"{BASE}/events", json={"list": [{"event": cb_event(7, NOW - 20)}, {"not": "an event"}]},
                  match=[asked(**{"occurred_at[after]": str(NOW - 101), "offset": '["17","9"]'}), auth])
    events_log = log()
    pages = list(events_log.pages(NOW - 100.5, None, False))  # the start's second is included
    assert [[item["id"] for item in page] for page in pages] == [["ev_00009", "ev_00008"], ["ev_00007"]]
    assert events_log.requests == 2


@responses.activate
def test_failed_only_asks_for_failed_and_rescheduled_webhooks() -> None:
    responses.get(f"{BASE}/events", json={"list": [{"event": cb_event(1, NOW - 5, "failed")}]},
                  match=[asked(**{"occurred_at[after]": str(NOW - 61),
                                  "webhook_status[in]": '["failed","re_scheduled"]'})])
    assert [[item["id"] for item in page] for page in log().pages(NOW - 60, None, True)] == [["ev_00001"]]


@responses.activate
def test_since_an_event_id_starts_at_its_time() -> None:
    responses.get(f"{BASE}/events/ev_00004", json={"event": cb_event(4, NOW - 400)})
    responses.get(f"{BASE}/events/ev_gone", status=404, json={"api_error_code": "resource_not_found"})
    assert log().start("ev_00004", NOW) == (NOW - 400, None)
    with pytest.raises(ConfigError, match="no such event"):
        log().start("ev_gone", NOW)
    with pytest.raises(ConfigError, match="ISO 8601"):
        log().start("yesterday", NOW)
    assert log().start(iso(NOW - 7 * 86400), NOW) == (NOW - 7 * 86400, None)  # no retention cut


def test_listed_events_parse_as_their_webhooks() -> None:
    item = cb_event(3, NOW - 30)
    assert log().parse(item) == ChargebeeProvider("u", "p").parse(json.dumps(item).encode())


def test_event_log_needs_the_api_key() -> None:
    hooks = {"CHARGEBEE_WEBHOOK_USERNAME": "hooks", "CHARGEBEE_WEBHOOK_PASSWORD": "pw"}
    without = chargebee.configure(hooks)
    assert without is not None and chargebee.event_log(without) is None
    configured = chargebee.configure({**hooks, "CHARGEBEE_SITE": "acme", "CHARGEBEE_API_KEY": KEY})
    assert configured is not None and isinstance(chargebee.event_log(configured), ChargebeeEventLog)


def test_catchup_over_http_stores_each_missed_event_once_oldest_first(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "PACKAGES", (*registry.PACKAGES, "chargebee"))
    made = [cb_event(n, NOW - 3000 + 10 * n) for n in range(230)]
    made.append(cb_event(999, NOW - 86400))  # before the window
    with FakeChargebee(KEY, [], {event["id"]: event for event in made}) as fake:
        config = chargebee.configure({"CHARGEBEE_WEBHOOK_USERNAME": "hooks", "CHARGEBEE_WEBHOOK_PASSWORD": "pw",
                                      "CHARGEBEE_API_KEY": KEY, "CHARGEBEE_API_BASE": fake.base})
        assert config is not None
        settings = make_settings(f"sqlite:///{tmp_path / 'bridge.db'}", providers={"chargebee": config})
        migrate(settings)
        store = Store(make_engine(settings))
        store.ingest(ChargebeeProvider("hooks", "pw").parse(json.dumps(made[5]).encode()), NOW)  # delivered

        def catch_up() -> Any:
            events_log = chargebee.event_log(config)
            assert events_log is not None
            return Catchup(settings, store, "chargebee", events_log, None, lambda: NOW).run(iso(NOW - 3000))

        fake.rate_limited = 1  # a 429 on the way is waited out
        first = catch_up()
        again = catch_up()
    assert (first.fetched, first.new, first.duplicates, first.ignored, first.requests) == (230, 229, 1, 0, 4)
    assert (again.new, again.duplicates) == (0, 230)
    with store.engine.connect() as connection:
        rows = list(connection.execute(select(events.c.event_id, events.c.provider).order_by(events.c.id)))
    stored = [row.event_id for row in rows]
    assert stored[0] == "ev_00005" and len(stored) == len(set(stored)) == 230
    assert stored[1:] == [f"ev_{n:05d}" for n in range(230) if n != 5]  # oldest first
    assert {row.provider for row in rows} == {"chargebee"}


def test_bridge_catchup_chargebee_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from bridge.cli.main import main

    monkeypatch.setattr(registry, "PACKAGES", (*registry.PACKAGES, "chargebee"))
    now = int(time.time())
    made = [cb_event(1, now - 500, "failed"), cb_event(2, now - 400), cb_event(3, now - 300, "re_scheduled")]
    with FakeChargebee(KEY, [], {event["id"]: event for event in made}) as fake:
        url = f"sqlite:///{tmp_path / 'bridge.db'}"
        for name, value in {"DATABASE_URL": url, "CHARGEBEE_WEBHOOK_USERNAME": "hooks",
                            "CHARGEBEE_WEBHOOK_PASSWORD": "pw", "CHARGEBEE_API_KEY": KEY,
                            "CHARGEBEE_API_BASE": fake.base}.items():
            monkeypatch.setenv(name, value)
        migrate(make_settings(url))
        assert main(["catchup", "chargebee", "--since", "ev_00001", "--failed-only"]) == 0
        report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (report["fetched"], report["new"]) == (2, 2)  # the failed and the re-scheduled one
        assert main(["catchup", "chargebee", "--since", "ev_00001"]) == 0
        report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (report["fetched"], report["new"], report["duplicates"]) == (3, 1, 2)
