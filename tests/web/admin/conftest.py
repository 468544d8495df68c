"""The admin console through Flask's test client, on a real SQLite file, with a clock moved by hand."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bridge.mapping.operations import MetadataUpdate
from bridge.pendo import outbox as ob
from bridge.providers import Event
from bridge.settings import Settings
from bridge.store.db import make_engine, migrate
from bridge.store.store import Incoming, Store
from bridge.web.app import create_app
from tests.conftest import Clock, make_settings

PASSWORD = "admin-password-for-tests"
START = 1_764_460_800.0  # 2025-11-30 00:00 UTC


@dataclass
class Console:
    """An app with the console on, its store and clock, and a client that can log in."""

    app: Flask
    client: FlaskClient
    store: Store
    clock: Clock
    settings: Settings

    def csrf(self, path: str = "/admin/login") -> str:
        return csrf_of(self.client.get(path))

    def log_in(self, password: str = PASSWORD) -> TestResponse:
        return self.client.post("/admin/login", data={"password": password, "csrf_token": self.csrf()})

    def page(self, path: str) -> str:
        answer = self.client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        return answer.get_data(as_text=True)


def csrf_of(answer: TestResponse) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', answer.get_data(as_text=True))
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def build_console(database_url: str, **overrides: Any) -> Console:
    settings = make_settings(database_url, admin_password=PASSWORD, **overrides)
    migrate(settings)
    clock = Clock()
    clock.now = START
    app = create_app(settings, clock=clock)
    return Console(app, app.test_client(), Store(make_engine(settings)), clock, settings)


@pytest.fixture
def console_factory(tmp_path: Path) -> Callable[..., Console]:
    def make(**overrides: Any) -> Console:
        return build_console(f"sqlite:///{tmp_path / 'bridge.db'}", **overrides)
    return make


@pytest.fixture
def console(console_factory: Callable[..., Console]) -> Console:
    return console_factory()


@pytest.fixture
def signed_in(console: Console) -> Console:
    assert console.log_in().status_code == 302
    return console


def stripe_event(event_id: str, event_type: str, customer: str = "cus_1", created: float = START - 60,
                 **obj: Any) -> Event:
    payload = {"id": event_id, "object": "event", "type": event_type, "created": int(created), "livemode": True,
               "api_version": "2025-03-31.basil", "data": {"object": {"customer": customer, **obj}}}
    return Event("stripe", event_id, event_type, created, True, "2025-03-31.basil", None, customer, payload)


def store_event(store: Store, event: Event, received_at: float, status: str = "mapped",
                detail: dict[str, Any] | str | None = None, account: str | None = "acme",
                request_id: str | None = "req-1") -> None:
    """Store an event as the web process does, then mark it as the worker would have."""
    from sqlalchemy import update

    from bridge.store.schema import events

    text = detail if isinstance(detail, str) or detail is None else json.dumps(detail)
    store.ingest_many([Incoming(event, received_at, raw=json.dumps(event.payload), request_id=request_id)])
    with store.transaction() as connection:
        connection.execute(update(events).where(events.c.event_id == event.id).values(
            status=status, detail=text, account_id=account, processed_at=received_at + 1,
            mapping_version="v1" if status != "received" else None))


def store_values(store: Store, event_id: str, values: dict[str, Any], source_time: int, now: float,
                 entity: str = "acme", kind: str = "account") -> None:
    with store.transaction() as connection:
        ob.enqueue_metadata(connection, MetadataUpdate(kind, entity, values, source_time), event_id, "v1", now)


def set_state(store: Store, table: Any, where: Any, **values: Any) -> None:
    from sqlalchemy import update

    with store.transaction() as connection:
        connection.execute(update(table).where(where).values(**values))
