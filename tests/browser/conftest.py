"""Browser tests: Chromium (Debian's `chromium` package, never downloaded at run time) driven by Playwright, against
the real web and worker processes and the fake Pendo."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Service
from tests.fakes.pendo import FakePendo

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = Path(os.environ.get("BRIDGE_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(os.environ.get("BRIDGE_SCREENSHOTS_DIR") or Path(__file__).with_name("screenshots"))
PASSWORD = "browser-test-password-42"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} and CI=true: `apt-get install -y chromium` (.ci/run does) and the test extra")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One headless Chromium for the session, from its executable path; nothing is downloaded."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def pendo() -> Iterator[FakePendo]:
    with FakePendo(integration_key="test-integration-key", track_secret="test-track-secret") as fake:
        yield fake


@pytest.fixture
def console(tmp_path: Path, pendo: FakePendo) -> Iterator[Service]:
    """The Procfile's web and worker on a SQLite file, with the admin console on."""
    service = Service(tmp_path, f"sqlite:///{tmp_path / 'bridge.db'}", pendo.url, BRIDGE_ADMIN_PASSWORD=PASSWORD,
                      BRIDGE_LOG_FORMAT="json").start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
