"""`bridge catchup paddle`: Paddle's `GET /events` paged with `responses`, then end to end against a fake Paddle."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses
from responses import matchers
from sqlalchemy import select

from bridge.errors import ConfigError
from bridge.providers import paddle, registry
from bridge.providers.paddle.api import PAGE_SIZE, PaddleApi
from bridge.providers.paddle.catchup import MARGIN_SECONDS, RETENTION_SECONDS, PaddleEventLog
from bridge.providers.paddle.webhook import PaddleProvider
from bridge.store.db import make_engine, migrate
from bridge.store.schema import events
from bridge.store.store import Store
from bridge.sync.catchup import Catchup, iso
from tests.conftest import make_settings
from tests.providers.paddle.fake_paddle import FakePaddle

BASE = "https://sandbox-api.paddle.com"
KEY = "pdl_sdbx_apikey_01jtestkey_secretpart"
SAMPLES = Path(__file__).resolve().parents[3] / "bridge" / "providers" / "paddle" / "samples"
SAMPLE = SAMPLES / "subscription.created.json"
NOW = 1_767_300_000


def rfc3339(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def paddle_event(number: int, occurred: float) -> dict[str, Any]:
    """A listed event: the sample notification with its own id (ids grow with time, as Paddle's do) and time."""
    made = json.loads(SAMPLE.read_text())
    made.pop("notification_id")  # the event entity has none
    made["event_id"] = f"evt_01k{number:05d}aaaaaaaaaaaaaaaaaa"
    made["occurred_at"] = rfc3339(occurred)
    return made


def log() -> PaddleEventLog:
    return PaddleEventLog(PaddleApi(KEY, BASE, sleep=lambda _: None))


def listing(items: list[dict[str, Any]], more: bool, cursor: str = "") -> dict[str, Any]:
    return {"data": items, "meta": {"request_id": "r", "pagination": {
        "per_page": PAGE_SIZE, "has_more": more, "estimated_total": 9,
        "next": f"{BASE}/events?order_by=id%5BDESC%5D&per_page={PAGE_SIZE}&after={cursor}"}}}


def asked(**extra: str) -> Any:
    return matchers.query_param_matcher({"per_page": str(PAGE_SIZE), "order_by": "id[DESC]", **extra})


def ids(pages: list[list[dict[str, Any]]]) -> list[list[int]]:
    return [[int(item["event_id"][7:12]) for item in page] for page in pages]


@responses.activate
def test_pages_newest_first_with_the_next_cursor_until_the_list_ends() -> None:
    made = {n: paddle_event(n, NOW - 100 * (10 - n)) for n in range(2, 10)}  # 9 is 100 s old, 2 is 800 s
    auth = matchers.header_matcher({"Authorization": f"Bearer {KEY}"})
    responses.get(f"{BASE}/events", json=listing([made[n] for n in (9, 8, 7)], True, "cur_1"), match=[asked(), auth])
    responses.get(f"{BASE}/events", json=listing([made[n] for n in (6, 5, 4)], True, "cur_2"),
                  match=[asked(after="cur_1"), auth])
    responses.get(f"{BASE}/events", json=listing([made[n] for n in (3, 2)], False), match=[asked(after="cur_2"), auth])
    events_log = log()
    pages = list(events_log.pages(NOW - 750, None, False))
    assert ids(pages) == [[9, 8, 7], [6, 5, 4], [3]]  # 2 is before the window
    assert events_log.requests == 3


@responses.activate
def test_a_page_reaching_past_the_window_and_its_margin_ends_the_listing() -> None:
    made = [paddle_event(9, NOW - 100), paddle_event(8, NOW - 200), paddle_event(7, NOW - 250 - MARGIN_SECONDS - 1)]
    responses.get(f"{BASE}/events", json=listing(made, True, "cur_1"), match=[asked()])
    events_log = log()
    assert ids(list(events_log.pages(NOW - 250, None, False))) == [[9, 8]]
    assert len(responses.calls) == 1  # the next page is not asked for


@responses.activate
def test_the_margin_reads_on_for_an_event_whose_time_is_out_of_step_with_its_id() -> None:
    first = [paddle_event(9, NOW - 100), paddle_event(8, NOW - 300)]  # 8 is before the window, within the margin
    second = [paddle_event(7, NOW - 150), paddle_event(6, NOW - 900)]  # 7 is in it though its id is older
    responses.get(f"{BASE}/events", json=listing(first, True, "cur_1"), match=[asked()])
    responses.get(f"{BASE}/events", json=listing(second, True, "cur_2"), match=[asked(after="cur_1")])
    assert ids(list(log().pages(NOW - 250, None, False))) == [[9], [7]]
    assert len(responses.calls) == 2


def test_listed_events_parse_as_their_notifications() -> None:
    item = paddle_event(1, NOW - 60)
    listed = log().parse(item)
    delivered = PaddleProvider(("secret",)).parse(json.dumps(item).encode())
    assert listed == delivered and listed.id == item["event_id"] and listed.created == pytest.approx(NOW - 60)


def test_more_than_90_days_back_is_said_plainly() -> None:
    start, note = log().start("2020-01-01T00:00:00Z", NOW)
    assert start == NOW - RETENTION_SECONDS
    assert note is not None and "Paddle keeps events for 90 days" in note and iso(start) in note
    assert log().start(iso(NOW - 3600), NOW) == (NOW - 3600, None)


def test_failed_only_and_an_unreadable_since_are_refused() -> None:
    with pytest.raises(ConfigError, match="failed-only"):
        list(log().pages(NOW - 60, None, True))
    with pytest.raises(ConfigError, match="ISO 8601"):
        log().start("evt_01k00001", NOW)


@responses.activate
def test_a_key_without_event_read_is_told_so() -> None:
    responses.get(f"{BASE}/events", status=403, json={"error": {"code": "forbidden"}})
    with pytest.raises(ConfigError, match=r"event\.read") as raised:
        list(log().pages(NOW - 60, None, False))
    assert KEY not in str(raised.value)


def test_event_log_needs_the_api_key() -> None:
    without = paddle.configure({"PADDLE_WEBHOOK_SECRET": "pdl_ntfset_x"})
    assert without is not None and paddle.event_log(without) is None
    configured = paddle.configure({"PADDLE_WEBHOOK_SECRET": "pdl_ntfset_x", "PADDLE_API_KEY": KEY})
    assert isinstance(paddle.event_log(configured), PaddleEventLog)  # type: ignore[arg-type]


def test_catchup_over_http_stores_each_missed_event_once_oldest_first(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "PACKAGES", (*registry.PACKAGES, "paddle"))
    made = [paddle_event(n, NOW - 3000 + 5 * n) for n in range(1, 451)]
    made.insert(0, paddle_event(0, NOW - 4 * 86400))  # before the window
    with FakePaddle(KEY, made) as fake:
        config = paddle.configure({"PADDLE_WEBHOOK_SECRET": "pdl_ntfset_x", "PADDLE_API_KEY": KEY,
                                   "PADDLE_API_BASE": fake.base})
        assert config is not None
        settings = make_settings(f"sqlite:///{tmp_path / 'bridge.db'}", providers={"paddle": config})
        migrate(settings)
        store = Store(make_engine(settings))
        store.ingest(PaddleProvider(("x",)).parse(json.dumps(made[7]).encode()), NOW)  # delivered before the outage

        def catch_up() -> Any:
            events_log = paddle.event_log(config)
            assert events_log is not None
            return Catchup(settings, store, "paddle", events_log, None, lambda: NOW).run(iso(NOW - 3600))

        first = catch_up()
        again = catch_up()
    assert (first.fetched, first.new, first.duplicates, first.ignored, first.requests) == (450, 449, 1, 0, 3)
    assert (again.new, again.duplicates) == (0, 450)
    with store.engine.connect() as connection:
        rows = list(connection.execute(select(events.c.event_id, events.c.provider).order_by(events.c.id)))
    stored = [row.event_id for row in rows]
    assert stored[0] == made[7]["event_id"] and len(stored) == len(set(stored)) == 450
    assert stored[1:] == [made[n]["event_id"] for n in range(1, 451) if n != 7]  # oldest first
    assert {row.provider for row in rows} == {"paddle"}
    assert all("order_by=id%5BDESC%5D" in path for path in fake.requests)


def test_bridge_catchup_paddle_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from bridge.cli.main import main

    monkeypatch.setattr(registry, "PACKAGES", (*registry.PACKAGES, "paddle"))
    made = [paddle_event(n, time.time() - 600 + n) for n in range(1, 4)]
    with FakePaddle(KEY, made) as fake:
        url = f"sqlite:///{tmp_path / 'bridge.db'}"
        for name, value in {"DATABASE_URL": url, "PADDLE_WEBHOOK_SECRET": "pdl_ntfset_x", "PADDLE_API_KEY": KEY,
                            "PADDLE_API_BASE": fake.base}.items():
            monkeypatch.setenv(name, value)
        migrate(make_settings(url))
        since = iso(time.time() - 3600)
        assert main(["catchup", "paddle", "--since", since]) == 0
        assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["new"] == 3
        assert main(["catchup", "paddle", "--since", since]) == 0
        report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (report["new"], report["duplicates"]) == (0, 3)
        assert main(["catchup", "paddle", "--since", since, "--failed-only"]) == 2
        assert "failed-only" in capsys.readouterr().err
