"""End-to-end fixtures: a fake Pendo on loopback and the service's real processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _postgres_database
from tests.e2e.harness import Service
from tests.fakes.pendo import FakePendo

pytestmark = pytest.mark.e2e


@pytest.fixture
def pendo() -> Iterator[FakePendo]:
    with FakePendo(integration_key="test-integration-key", track_secret="test-track-secret") as fake:
        yield fake


@pytest.fixture(params=["sqlite", "postgres"])
def e2e_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The database URL exactly as a user sets it: a SQLite file, or postgres://."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bridge.db'}"
    else:
        for url in _postgres_database():
            yield url.replace("postgresql+psycopg://", "postgres://")


@pytest.fixture
def service_factory(tmp_path: Path, e2e_database: str, pendo: FakePendo) -> Iterator[Callable[..., Service]]:
    started: list[Service] = []

    def start(**env: Any) -> Service:
        service = Service(tmp_path, e2e_database, pendo.url, **env).start()
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


@pytest.fixture
def service(service_factory: Callable[..., Service]) -> Service:
    return service_factory()
