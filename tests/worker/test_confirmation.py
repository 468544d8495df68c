"""A provider whose enrichment confirms its events (Chargebee signs nothing; `CONFIRMS_EVENTS`): the worker maps an
event its API vouches for, holds one it does not know, and retries one it could not ask about, holding it (never
mapping the body alone) once the retries are spent. Chargebee's real package against its fake API on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bridge.mapping import load_mappings
from bridge.providers import Event, registry
from bridge.providers.chargebee.api import ChargebeeApiError
from bridge.providers.chargebee.webhook import ChargebeeProvider
from bridge.store import store as st
from bridge.store.db import make_engine, migrate
from bridge.store.schema import events, track_events
from bridge.store.store import Store
from bridge.worker import enrichment
from bridge.worker.mapper import MAX_ENRICHMENT_TRIES, Mapper
from tests.conftest import ROOT, make_settings
from tests.providers.chargebee.fake_chargebee import FakeChargebee
from tests.providers.deliveries import fixture

MAPPINGS = load_mappings(ROOT / "mappings")
KEY = "fake-chargebee-key"


def contract_event() -> Event:
    return ChargebeeProvider("hooks", "s3cret").parse(fixture("chargebee", "created"))


@pytest.fixture
def fake() -> Iterator[FakeChargebee]:
    with FakeChargebee(KEY, [], {}) as server:
        yield server


def mapper_for(database_url: str, base: str, now: float) -> Mapper:
    settings = make_settings(database_url, pendo_track_secret="track", claim_seconds=60.0)
    migrate(settings)
    store = Store(make_engine(settings))
    configs = registry.configure({"CHARGEBEE_WEBHOOK_USERNAME": "hooks", "CHARGEBEE_WEBHOOK_PASSWORD": "s3cret",
                                  "CHARGEBEE_API_KEY": KEY, "CHARGEBEE_API_BASE": base})
    return Mapper(settings, store, MAPPINGS, enrichment.online(store, configs, lambda: now), "w1", lambda: now)


def row(mapper: Mapper, event_id: str) -> dict[str, Any]:
    with mapper.store.engine.connect() as connection:
        return dict(connection.execute(select(events).where(events.c.event_id == event_id)).mappings().one())


def tracked(mapper: Mapper) -> int:
    with mapper.store.engine.connect() as connection:
        return len(connection.execute(select(track_events)).all())


def test_an_event_chargebee_confirms_is_mapped_from_its_copy(database_url: str, fake: FakeChargebee) -> None:
    event = contract_event()
    fake.events[event.id] = json.loads(fixture("chargebee", "created"))
    mapper = mapper_for(database_url, fake.base, event.created + 60)
    mapper.store.ingest(event, now=event.created + 60)
    mapper.run_batch()
    assert row(mapper, event.id)["status"] == st.MAPPED and tracked(mapper) == 1
    assert fake.requests == [f"/api/v2/events/{event.id}"]


def test_an_event_chargebee_does_not_know_is_held_never_mapped(database_url: str, fake: FakeChargebee) -> None:
    event = contract_event()
    mapper = mapper_for(database_url, fake.base, event.created + 60)
    mapper.store.ingest(event, now=event.created + 60)
    mapper.run_batch()
    found = row(mapper, event.id)
    assert found["status"] == st.HELD and "not genuine" in json.loads(found["detail"])["held"]
    assert tracked(mapper) == 0


def test_an_event_chargebee_cannot_be_asked_about_is_retried_then_held(database_url: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(self: object, event_id: str) -> dict[str, Any]:
        raise ChargebeeApiError("Chargebee's API kept failing (503)")

    monkeypatch.setattr("bridge.providers.chargebee.api.ChargebeeApi.event", unavailable)
    event = contract_event()
    now = event.created + 60
    mapper = mapper_for(database_url, "https://acme.chargebee.com/api/v2", now)
    mapper.store.ingest(event, now=now)
    for attempt in range(1, MAX_ENRICHMENT_TRIES):
        mapper.run_batch()
        found = row(mapper, event.id)
        assert (found["status"], found["attempts"]) == (st.RECEIVED, attempt)
        with mapper.store.transaction() as connection:  # due again now
            connection.execute(events.update().where(events.c.event_id == event.id).values(next_attempt_at=0.0))
    mapper.run_batch()
    assert row(mapper, event.id)["status"] == st.HELD and tracked(mapper) == 0
