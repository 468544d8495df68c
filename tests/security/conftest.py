"""Fixtures for the security suite: the service's real processes (gunicorn web, worker) against a fake Pendo."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _postgres_database
from tests.e2e.harness import Service
from tests.fakes.pendo import FakePendo

INTEGRATION_KEY = "test-integration-key"
TRACK_SECRET = "test-track-secret"


@pytest.fixture
def pendo() -> Iterator[FakePendo]:
    """A fake Pendo holding the keys the service is started with."""
    with FakePendo(integration_key=INTEGRATION_KEY, track_secret=TRACK_SECRET) as fake:
        yield fake


@pytest.fixture(params=["sqlite", "postgres"])
def any_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The database URL as a user sets it: a SQLite file, or a fresh PostgreSQL database as `postgres://`."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bridge.db'}"
    else:
        for url in _postgres_database():
            yield url.replace("postgresql+psycopg://", "postgres://")


@pytest.fixture
def start_service(tmp_path: Path, pendo: FakePendo) -> Iterator[Callable[..., Service]]:
    """Start release, web and worker (on SQLite unless a URL is given); everything started is stopped after."""
    started: list[Service] = []

    def start(database_url: str | None = None, pendo_url: str | None = None, **env: Any) -> Service:
        url = database_url or f"sqlite:///{tmp_path / 'bridge.db'}"
        service = Service(tmp_path, url, pendo_url or pendo.url, **env)
        started.append(service)
        return service.start()

    yield start
    for service in started:
        service.stop()


@pytest.fixture
def service(start_service: Callable[..., Service]) -> Service:
    """The service on a SQLite file."""
    return start_service()
