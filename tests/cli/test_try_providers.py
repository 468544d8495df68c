"""`bridge try --provider NAME` and mapping cases' `provider:`: any registered provider's event, as its webhook
carries it (JSON or a form body), gives the neutral fields the contract promises (tests/providers/test_contract.py)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from bridge.cli.main import main
from tests.conftest import ROOT
from tests.providers.test_contract import CREATED_FIELDS, CREATED_TRACK

CONTRACT = ROOT / "tests" / "fixtures" / "contract"
EVENTS = ROOT / "mappings" / "tests" / "events"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("BRIDGE_MAPPINGS_OVERLAY_DIR", "PENDO_INTEGRATION_KEY", "PENDO_TRACK_EVENT_SECRET", "STRIPE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BRIDGE_MAPPINGS_DIR", str(ROOT / "mappings"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")  # no database: the event alone
    monkeypatch.setenv("BRIDGE_LOG_FORMAT", "text")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse refusing an argument
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def account_values(report: dict[str, Any]) -> dict[str, Any]:
    rows = [row for request in report["requests"] if request["path"].startswith("/api/v1/metadata/account/")
            for row in request["body"]]
    assert {row["accountId"] for row in rows} == {"acct-contract"}
    return {key: value for row in rows for key, value in row["values"].items()}


@pytest.mark.parametrize(("provider", "file"), [("paddle", "created.json"), ("braintree", "created.form")])
def test_try_a_providers_event_shows_the_neutral_fields(capsys: pytest.CaptureFixture[str], provider: str,
                                                         file: str) -> None:
    code, out = run(capsys, "try", "--provider", provider, str(CONTRACT / provider / file), "--json")
    assert code == 0, out
    report = json.loads(out)
    assert "subscription-fields" in report["matched"]
    values = account_values(report)
    assert {key: values.get(key) for key in CREATED_FIELDS} == CREATED_FIELDS
    (track,) = [request["body"] for request in report["requests"] if request["path"] == "/data/track"]
    assert track["event"] == CREATED_TRACK[0]
    assert {key: track["properties"].get(key) for key in CREATED_TRACK[1]} == CREATED_TRACK[1]


def test_try_reads_the_readable_report_of_a_form_body(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "try", "--provider", "braintree", str(CONTRACT / "braintree" / "created.form"))
    assert code == 0, out
    assert out.startswith("event subscription_went_active:") and '"billing_plan": "Pro"' in out


def test_try_without_provider_reads_the_first_registered_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "try", str(EVENTS / "subscription_created_2024-06-20.json"), "--json")
    assert code == 0 and "subscription-fields" in json.loads(out)["matched"]
    code, out = run(capsys, "try", str(CONTRACT / "paddle" / "created.json"))
    assert code != 0 and "created.json" in out and "not a Stripe event" in out


def test_try_refuses_an_unknown_provider(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "try", "--provider", "nope", str(CONTRACT / "paddle" / "created.json"))
    assert code == 2 and "no provider 'nope'" in out and "paddle" in out


def test_mapping_cases_name_their_provider(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(textwrap.dedent(f"""\
        tests:
          - name: a Paddle subscription
            provider: paddle
            event: {CONTRACT / 'paddle' / 'created.json'}
            expect:
              matched: [subscription-fields]
              operations:
                - account: acct-contract
                  values: {{billing_plan: Pro, mrr: 147.0, seats: 3}}
          - name: a Braintree form
            provider: braintree
            event: {CONTRACT / 'braintree' / 'created.form'}
            expect:
              operations:
                - account: acct-contract
                  values: {{billing_status: active, billing_currency: USD}}
          - name: the default provider
            event: {EVENTS / 'subscription_created_2024-06-20.json'}
            customer: {{metadata: {{pendo_account_id: acme-corp}}}}
            expect:
              matched: [subscription-fields]
          - name: an unknown provider
            provider: nope
            event: {CONTRACT / 'paddle' / 'created.json'}
          - name: the wrong provider
            provider: chargebee
            event: {CONTRACT / 'paddle' / 'created.json'}
        """))
    code, out = run(capsys, "test", str(cases))
    assert code == 1, out
    assert f"PASS {cases}: a Paddle subscription" in out and f"PASS {cases}: a Braintree form" in out
    assert f"PASS {cases}: the default provider" in out
    assert f"FAIL {cases}: an unknown provider" in out and "event: no provider 'nope'" in out
    assert f"FAIL {cases}: the wrong provider" in out and "not a Chargebee event" in out
    assert "3 passed, 2 failed" in out
