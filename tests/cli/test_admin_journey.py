"""Issue 4's "done when", as a new admin would go: overlay, check, check --pendo, pendo setup, try, test."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.cli.main import main
from bridge.mapping import loader
from tests.conftest import ROOT
from tests.fakes.pendo import FakePendo

EVENTS = ROOT / "mappings" / "tests" / "events"
OVERLAY = """\
# our own rules, on top of the shipped ones
lookups:
  plan_names: {pro_monthly: Pro, business_yearly: Business}
rules:
  - name: plan-tier
    provider: stripe
    events: ["customer.subscription.*"]
    when: "object.status in ['active', 'trialing']"
    account:
      plan_name: "lookup('plan_names', stripe_plan(object), 'Other')"
      sales_region: "customer.metadata.region"
  - name: subscription-canceled
    enabled: false
"""


class Cli:
    """Runs `bridge` in-process with an environment, returning (exit code, output)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
        self.monkeypatch, self.capsys = monkeypatch, capsys
        for name in ("BRIDGE_MAPPINGS_OVERLAY_DIR", "PENDO_INTEGRATION_KEY", "PENDO_TRACK_EVENT_SECRET",
                     "PENDO_BASE_URL", "STRIPE_API_KEY", "DATABASE_URL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("BRIDGE_MAPPINGS_DIR", str(ROOT / "mappings"))
        monkeypatch.setenv("BRIDGE_LOG_FORMAT", "text")

    def env(self, **values: str) -> Cli:
        for name, value in values.items():
            self.monkeypatch.setenv(name, value)
        return self

    def __call__(self, *args: str) -> tuple[int, str]:
        code = main(list(args))
        captured = self.capsys.readouterr()
        return code, captured.out + captured.err


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(monkeypatch, capsys)


@pytest.fixture
def overlay(tmp_path: Path, cli: Cli) -> Path:
    folder = tmp_path / "ours"
    folder.mkdir()
    (folder / "ours.yaml").write_text(OVERLAY)
    cli.env(BRIDGE_MAPPINGS_OVERLAY_DIR=str(folder))
    return folder


@pytest.fixture
def pendo(cli: Cli) -> Iterator[FakePendo]:
    fields = {"account": {"billing_plan": "string", "mrr": "string", "billing_status": "string"}}
    with FakePendo(fields=fields) as fake:
        cli.env(PENDO_BASE_URL=fake.url, PENDO_INTEGRATION_KEY=fake.integration_key)
        yield fake


def customer_file(tmp_path: Path, **metadata: str) -> Path:
    customer = json.loads((EVENTS / "customer.json").read_text())
    customer["metadata"].update(metadata)
    path = tmp_path / "customer.json"
    path.write_text(json.dumps(customer))
    return path


def test_journey_overlay_adds_a_lookup_a_condition_and_an_extra_field(cli: Cli, overlay: Path,
                                                                      tmp_path: Path) -> None:
    customer = customer_file(tmp_path, region="EMEA")
    code, out = cli("try", str(EVENTS / "subscription_created_2024-06-20.json"), "--customer", str(customer),
                    "--json")
    assert code == 0
    report = json.loads(out)
    assert report["matched"] == ["subscription-fields", "plan-tier"]
    assert "subscription-canceled" not in report["skipped"]  # disabled by the overlay
    (metadata, track) = report["requests"]
    assert (metadata["method"], metadata["path"]) == ("POST", "/api/v1/metadata/account/custom/value")
    values = {k: v for row in metadata["body"] for k, v in row["values"].items()}
    assert (values["plan_name"], values["sales_region"], values["billing_plan"]) == ("Pro", "EMEA", "pro_monthly")
    assert track["path"] == "/data/track" and track["body"]["event"] == "Subscription Created"


def test_journey_condition_false_is_explained(cli: Cli, overlay: Path, tmp_path: Path) -> None:
    event = json.loads((EVENTS / "subscription_deleted_2024-06-20.json").read_text())
    path = tmp_path / "deleted.json"
    path.write_text(json.dumps(event))
    (tmp_path / "deleted.enrichment.json").write_text(json.dumps({"customer": {"metadata": {}}}))
    code, out = cli("try", str(path))
    assert code == 0
    assert "not matched: plan-tier: when is false" in out


def test_journey_check_flags_a_typo_with_file_and_line(cli: Cli, overlay: Path) -> None:
    text = OVERLAY.replace("    account:\n", "    acount:\n")
    (overlay / "ours.yaml").write_text(text)
    code, out = cli("check")
    assert code == 1
    assert f"{overlay / 'ours.yaml'}:9: rule plan-tier: unknown key 'acount'" in out


def test_journey_check_is_clean_on_the_shipped_mappings_with_the_overlay(cli: Cli, overlay: Path) -> None:
    code, out = cli("check")
    assert code == 0, out
    assert "ok" in out


def test_journey_check_cannot_run_without_a_mappings_folder(cli: Cli, tmp_path: Path) -> None:
    cli.env(BRIDGE_MAPPINGS_DIR=str(tmp_path / "nowhere"))
    code, out = cli("check")
    assert code == 2 and "nowhere" in out


def test_journey_sandbox_escape_is_reported_and_never_run(cli: Cli, overlay: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    escape = "object.__class__.__mro__[1].__subclasses__()"
    (overlay / "ours.yaml").write_text(OVERLAY.replace("customer.metadata.region", escape))
    compiled: list[str] = []
    real = loader.compile_expression
    monkeypatch.setattr(loader, "compile_expression", lambda env, source: compiled.append(source) or real(env, source))
    code, out = cli("check")
    assert code == 1
    assert "rule plan-tier: account.sales_region: access to '__class__' is not allowed" in out
    assert ":11: rule plan-tier" in out
    assert escape not in compiled and compiled  # the others were compiled, the escape never was


def test_journey_check_pendo_names_missing_fields_type_mismatches_and_write_access(cli: Cli,
                                                                                   pendo: FakePendo) -> None:
    code, out = cli("check", "--pendo")
    assert code == 1
    assert "pendo: account field 'seats': missing from group custom (expected number" in out
    assert "pendo: account field 'mrr': is text in Pendo, the mappings send number" in out
    assert "billing_plan" not in out  # exists with the right type
    assert "can write: yes" in out


def test_journey_check_pendo_reports_a_read_only_key(cli: Cli, pendo: FakePendo) -> None:
    pendo.write_access = False
    code, out = cli("check", "--pendo")
    assert code == 1 and "can write: NO" in out


def test_journey_pendo_setup_creates_missing_fields_once(cli: Cli, pendo: FakePendo) -> None:
    code, out = cli("pendo", "setup", "--dry-run")
    assert "would create account field seats (number)" in out
    assert "seats" not in pendo.schema("account")
    code, out = cli("pendo", "setup")
    assert "created account field cancel_at_period_end (boolean)" in out
    schema = pendo.schema("account")
    assert (schema["seats"], schema["trial_end"], schema["delinquent"]) == ("number", "time", "boolean")
    assert code == 1 and "cannot fix: account field mrr is text in Pendo" in out  # a type Pendo must change
    creates = len(pendo.calls("/api/v1/metadata/schema/account/custom"))
    code, out = cli("pendo", "setup")
    assert "nothing to create" in out
    assert len(pendo.calls("/api/v1/metadata/schema/account/custom")) == creates


def test_journey_try_shows_exact_requests_readably(cli: Cli) -> None:
    code, out = cli("try", str(EVENTS / "invoice_paid_2024-06-20.json"), "--customer", str(EVENTS / "customer.json"))
    assert code == 0
    assert "matched: invoice-paid" in out
    assert "not matched: subscription-fields: event type does not match" in out
    assert "POST https://app.pendo.io/api/v1/metadata/account/custom/value" in out
    assert '"last_payment_amount": 147.0' in out
    assert "POST https://app.pendo.io/data/track" in out
    assert "older than 7 days" in out


def test_journey_test_passes_the_shipped_tests(cli: Cli) -> None:
    code, out = cli("test")
    assert code == 0, out
    assert "0 failed" in out and "FAIL" not in out


def test_journey_test_fails_a_wrong_expectation(cli: Cli, overlay: Path) -> None:
    tests = overlay / "tests"
    tests.mkdir()
    (tests / "ours.yaml").write_text(textwrap.dedent(f"""\
        tests:
          - name: plan name from the lookup table
            event: {EVENTS / 'subscription_created_2024-06-20.json'}
            customer: {{metadata: {{pendo_account_id: acme-corp, region: EMEA}}}}
            expect:
              operations:
                - account: acme-corp
                  values: {{plan_name: Pro, sales_region: EMEA}}
          - name: a wrong expectation
            event: {EVENTS / 'subscription_created_2024-06-20.json'}
            expect:
              operations:
                - account: acme-corp
                  values: {{plan_name: Enterprise}}
        """))
    code, out = cli("test")
    assert code == 1
    assert "PASS" in out and f"PASS {tests / 'ours.yaml'}: plan name from the lookup table" in out
    assert f"FAIL {tests / 'ours.yaml'}: a wrong expectation" in out
    assert "1 failed" in out


def test_journey_replay_dry_run_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    cli.env(DATABASE_URL=f"sqlite:///{tmp_path / 'bridge.db'}", STRIPE_WEBHOOK_SECRET="whsec_x")
    assert cli("migrate")[0] == 0
    code, out = cli("replay", "--dry-run", "--since", "2025-01-01", "--type", "invoice.*", "--tracks")
    assert code == 0
    assert "dry run: nothing sent" in out and "0 event(s) selected" in out
