"""The registry: providers are found by name, configured from the environment, and only configured ones serve."""

from __future__ import annotations

import json
import logging
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from bridge.errors import ConfigError, SignatureError
from bridge.providers import Event, registry, storable
from bridge.settings import load_settings
from bridge.store.db import migrate
from bridge.web.app import create_app
from bridge.web.triage import IGNORED, RECEIVED, triage
from tests.conftest import make_settings


class AcmeWebhook:
    """A provider whose signature is its secret in a header, enough to exercise the core."""

    name = "acme"

    def __init__(self, secret: str):
        self.secret = secret

    def verify(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        if headers.get("acme-secret") != self.secret:
            raise SignatureError("no acme-secret header matches ACME_SECRET")

    def parse(self, body: bytes) -> Event:
        payload = json.loads(body)
        return storable(Event("acme", payload["id"], payload["type"], 1_000.0, None, None, None, None, payload))


def _acme() -> types.ModuleType:
    module = types.ModuleType("bridge.providers.acme")
    module.NAME = "acme"  # type: ignore[attr-defined]
    module.VARIABLES = ("ACME_SECRET", "ACME_TOKEN")  # type: ignore[attr-defined]
    module.configure = lambda env: env.get("ACME_SECRET") or None  # type: ignore[attr-defined]
    module.webhook = AcmeWebhook  # type: ignore[attr-defined]
    module.source = lambda config: None  # type: ignore[attr-defined]
    return module


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second provider registered next to Stripe, as a new package would be."""
    monkeypatch.setitem(sys.modules, "bridge.providers.acme", _acme())
    monkeypatch.setattr(registry, "PACKAGES", (*registry.PACKAGES, "acme"))


def test_registry_finds_each_package_by_its_name() -> None:
    assert [each.NAME for each in registry.packages()] == list(registry.PACKAGES)
    with pytest.raises(ConfigError, match="no provider 'nosuch'"):
        registry.package("nosuch")


@pytest.mark.usefixtures("acme")
def test_registry_configures_only_the_providers_whose_secret_is_set() -> None:
    assert set(load_settings({"ACME_SECRET": "s"}).providers) == {"acme"}
    assert set(load_settings({"ACME_SECRET": "s", "STRIPE_WEBHOOK_SECRET": "whsec_x"}).providers) == {"acme", "stripe"}


@pytest.mark.usefixtures("acme")
def test_settings_without_any_provider_name_every_providers_variables() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"ACME_TOKEN": "t"})
    message = str(caught.value)
    assert "STRIPE_WEBHOOK_SECRET" in message and "ACME_SECRET" in message and "ACME_TOKEN" in message


@pytest.mark.usefixtures("acme")
def test_web_serves_only_configured_providers_and_logs_their_endpoints(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'bridge.db'}", providers={"acme": "acme-secret"})
    migrate(settings)
    with caplog.at_level(logging.INFO, logger="bridge.web"):
        client = create_app(settings, clock=lambda: 1_000.0).test_client()
    [started] = [r for r in caplog.records if r.getMessage() == "webhook endpoints live"]
    assert started.endpoints == ["/webhooks/acme"]  # type: ignore[attr-defined]
    body = json.dumps({"id": "a_1", "type": "thing.happened"}).encode()
    assert client.post("/webhooks/acme", data=body, headers={"Acme-Secret": "acme-secret"}).status_code == 200
    assert client.post("/webhooks/acme", data=body, headers={"Acme-Secret": "wrong"}).status_code == 400
    assert client.post("/webhooks/stripe", data=body).status_code == 404


@pytest.mark.usefixtures("acme")
def test_triage_asks_the_provider_only_when_it_has_a_reason_to_ignore() -> None:
    acme = Event("acme", "a_1", "thing.happened", 1.0, False, None, None, None, {})
    assert triage(acme, "acme-secret") == (RECEIVED, None)
    stripe = Event("stripe", "evt_1", "invoice.paid", 1.0, False, None, None, None, {})
    config: Any = load_settings({"STRIPE_WEBHOOK_SECRET": "whsec_x"}).providers["stripe"]
    assert triage(stripe, config) == (IGNORED, "test mode event; STRIPE_MODE=live")


def test_settings_never_show_a_providers_secrets() -> None:
    settings = load_settings({"STRIPE_WEBHOOK_SECRET": "whsec_never_shown", "STRIPE_API_KEY": "rk_live_never_shown"})
    assert "never_shown" not in repr(settings)


@pytest.mark.usefixtures("acme")
def test_settings_reconcile_needs_a_configured_provider_with_a_list_api() -> None:
    with pytest.raises(ConfigError, match="set one of STRIPE_API_KEY, ACME_SECRET / ACME_TOKEN or unset"):
        load_settings({"ACME_SECRET": "s", "STRIPE_WEBHOOK_SECRET": "whsec_x", "BRIDGE_RECONCILE_HOURS": "24"})
    both = {"ACME_SECRET": "s", "STRIPE_WEBHOOK_SECRET": "whsec_x", "STRIPE_API_KEY": "rk_x"}
    assert load_settings({**both, "BRIDGE_RECONCILE_HOURS": "24"}).reconcile_hours == 24


def test_registry_mapping_module_is_none_for_unknown_names_and_packages_without_one() -> None:
    assert registry.mapping_module("nosuch") is None
    found = registry.mapping_module("stripe")
    assert found is None or found.__name__ == "bridge.providers.stripe.mapping"
    assert registry.mapping_modules() == (() if found is None else (found,))


def test_every_finished_package_is_registered_and_names_its_optional_functions_as_the_core_reads_them() -> None:
    assert set(registry.PACKAGES) == {"stripe", "paddle", "chargebee", "polar", "standard", "recurly", "lemonsqueezy",
                                      "braintree", "maxio"}
    for each in registry.packages():
        assert not hasattr(each, "enrich"), f"{each.NAME}: the core reads `enrichment`, not `enrich`"
        if getattr(each, "CONFIRMS_EVENTS", False):
            assert callable(getattr(each, "enrichment", None)), each.NAME
    assert {each.NAME for each in registry.packages() if callable(getattr(each, "enrichment", None))} == {
        "chargebee", "recurly", "lemonsqueezy", "maxio"}
    assert {each.NAME for each in registry.packages() if callable(getattr(each, "ignored", None))} >= {
        "stripe", "lemonsqueezy"}
