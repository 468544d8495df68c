"""/readyz is public: it says whether the service is ready, with short check names, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.e2e.harness import Service, wait_until
from tests.fakes.pendo import FakePendo

pytestmark = pytest.mark.e2e


def test_web_readyz_with_broken_mappings_names_no_file_and_no_expression(tmp_path: Path, pendo: FakePendo) -> None:
    mappings = tmp_path / "secret-mappings-dir"
    mappings.mkdir()
    (mappings / "internal.yaml").write_text(
        'rules:\n  - name: leak\n    provider: stripe\n    events: [invoice.paid]\n    account:\n'
        '      margin: "payload.data.object.internal_margin >"\n')
    service = Service(tmp_path, f"sqlite:///{tmp_path / 'bridge.db'}", pendo.url, BRIDGE_MAPPINGS_DIR=str(mappings))
    try:
        assert service.release().returncode == 0
        service.run("web")
        wait_until(lambda: _readyz(service) is not None, timeout=30)
        answer = _readyz(service)
        assert answer is not None and answer.status_code == 503
        assert answer.json() == {"ready": False, "checks": {"database": "ok", "mappings": "failed", "ingest": "ok"}}
        for leak in ("internal", "yaml", "margin", str(mappings)):
            assert leak not in answer.text
        assert "internal.yaml" in service.log_text()  # the details are in the log, for the operator
    finally:
        service.stop()


def test_web_readyz_when_ready_is_short(service: Service) -> None:
    answer = requests.get(f"{service.url}/readyz", timeout=5)
    assert answer.status_code == 200
    assert answer.json() == {"ready": True, "checks": {"database": "ok", "mappings": "ok", "ingest": "ok"}}


def _readyz(service: Service) -> requests.Response | None:
    try:
        return requests.get(f"{service.url}/readyz", timeout=5)
    except requests.RequestException:
        return None
