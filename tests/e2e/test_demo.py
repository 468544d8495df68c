"""`bridge demo` as a new user runs it: with BRIDGE_ADMIN_PASSWORD set it serves the admin console too."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.e2e.harness import free_port, wait_until

pytestmark = pytest.mark.e2e
PASSWORD = "demo-admin-password"


def test_demo_serves_the_admin_console(tmp_path: Path) -> None:
    port = free_port()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "BRIDGE_ADMIN_PASSWORD": PASSWORD}
    bridge = Path(sys.executable).parent / "bridge"
    log = (tmp_path / "demo.log").open("wb")
    demo = subprocess.Popen([str(bridge), "demo", "--port", str(port)], cwd=tmp_path, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        browser = requests.Session()

        def login_page() -> str | None:
            try:
                answer = browser.get(f"{url}/admin/login", timeout=5)
            except requests.ConnectionError:
                return None
            return answer.text if answer.ok else None

        page = wait_until(login_page, timeout=60)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        assert browser.post(f"{url}/admin/login", data={"password": PASSWORD, "csrf_token": csrf},
                            timeout=5).url.endswith("/admin/")
        events = wait_until(lambda: "evt_demo_invoice_paid" in (text := browser.get(f"{url}/admin/events",
                                                                                     timeout=5).text) and text)
        assert "evt_demo_subscription_created" in events
        event = wait_until(lambda: "Pendo accepted it" in (text := browser.get(
            f"{url}/admin/events/stripe/evt_demo_subscription_created", timeout=5).text) and text, timeout=30)
        assert "What Pendo gets for account acme-demo" in event
        assert "Admin console: " in (tmp_path / "demo.log").read_text()
        assert PASSWORD not in (tmp_path / "demo.log").read_text()
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
        log.close()
