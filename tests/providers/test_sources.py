"""Named sources: several accounts of one provider, each configured from its suffixed variables and keyed apart."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bridge.errors import ConfigError
from bridge.mapping.evaluate import EvalOptions, context_variables
from bridge.providers import Event, registry
from bridge.settings import load_settings
from bridge.store.db import make_engine, migrate
from bridge.store.schema import events
from bridge.store.store import Store
from bridge.web.app import create_app
from tests.conftest import make_settings
from tests.providers.test_registry import AcmeWebhook

SEEN: list[dict[str, str]] = []


def _configure(env: Mapping[str, str]) -> str | None:
    SEEN.append({name: value for name, value in env.items() if name.startswith("ACME_")})
    return env.get("ACME_SECRET") or None


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("bridge.providers.acme")
    module.NAME = "acme"  # type: ignore[attr-defined]
    module.VARIABLES = ("ACME_SECRET", "ACME_TOKEN")  # type: ignore[attr-defined]
    module.configure = _configure  # type: ignore[attr-defined]
    module.webhook = AcmeWebhook  # type: ignore[attr-defined]
    module.source = lambda config: None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bridge.providers.acme", module)
    monkeypatch.setattr(registry, "PACKAGES", (*registry.PACKAGES, "acme"))
    SEEN.clear()


def test_a_key_names_the_provider_and_its_source() -> None:
    assert registry.key("stripe") == registry.key("stripe", "default") == "stripe"
    assert registry.key("stripe", "eu") == "stripe/eu"
    assert registry.split("stripe/eu") == ("stripe", "eu") and registry.split("stripe") == ("stripe", "default")
    assert registry.package("stripe/eu") is registry.package("stripe")
    assert registry.find("nosuch/eu") is None and registry.mapping_module("nosuch/eu") is None
    for bad in ("EU", "e u", "a" * 17, "-eu", "eu.1"):
        with pytest.raises(ConfigError, match="not a source name"):
            registry.key("stripe", bad)
    assert len(registry.key("lemonsqueezy", "a" * registry.SOURCE_MAX)) <= 32  # the stores' provider columns


@pytest.mark.usefixtures("acme")
def test_each_source_is_configured_from_its_own_variables_with_the_suffix_stripped() -> None:
    settings = load_settings({"ACME_SECRET": "s", "ACME_TOKEN": "t", "ACME_SECRET_EU": "s-eu",
                              "ACME_TOKEN_EU": "t-eu", "ACME_SECRET_US_2": "s-us"})
    assert settings.providers == {"acme": "s", "acme/eu": "s-eu", "acme/us_2": "s-us"}
    assert {"ACME_SECRET": "s-eu", "ACME_TOKEN": "t-eu"} in SEEN  # only the source's own, under their plain names
    assert {"ACME_SECRET": "s-us"} in SEEN  # never the unsuffixed account's token


@pytest.mark.usefixtures("acme")
def test_a_source_without_its_own_secret_is_not_configured() -> None:
    assert set(load_settings({"ACME_SECRET": "s", "ACME_TOKEN_EU": "t", "ACME_SECRET_US": " "}).providers) == {
        "acme"}
    assert set(load_settings({"ACME_SECRET_EU": "s"}).providers) == {"acme/eu"}  # a source alone is enough


@pytest.mark.parametrize("variable", ["STRIPE_WEBHOOK_SECRET_eu", "STRIPE_WEBHOOK_SECRET_E.U",
                                      "STRIPE_WEBHOOK_SECRET_" + "X" * 17, "STRIPE_API_KEY_DEFAULT",
                                      "STRIPE_WEBHOOK_SECRET__EU"])
def test_a_suffix_that_is_not_a_source_name_is_refused_naming_the_variable(variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"STRIPE_WEBHOOK_SECRET": "whsec_a", variable: "whsec_b"})
    assert str(caught.value).startswith(f"{variable} names the source")


def test_a_sources_unusable_value_is_named_as_the_operator_set_it() -> None:
    with pytest.raises(ConfigError, match=r"^STRIPE_MODE_EU must be one of"):
        load_settings({"STRIPE_WEBHOOK_SECRET_EU": "whsec_b", "STRIPE_MODE_EU": "sometimes"})


@pytest.mark.usefixtures("acme")
def test_each_sources_endpoint_takes_its_own_secret_and_keys_its_events(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'bridge.db'}", providers={"acme": "main", "acme/eu": "eu"})
    migrate(settings)
    client = create_app(settings, clock=lambda: 1_000.0).test_client()
    body = json.dumps({"id": "a_1", "type": "thing.happened"}).encode()
    first = client.post("/webhooks/acme", data=body, headers={"Acme-Secret": "main"})
    second = client.post("/webhooks/acme/eu", data=body, headers={"Acme-Secret": "eu"})
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.get_json()["duplicate"] is False
    assert client.post("/webhooks/acme/eu", data=body, headers={"Acme-Secret": "eu"}).get_json()["duplicate"]
    assert client.post("/webhooks/acme/eu", data=body, headers={"Acme-Secret": "main"}).status_code == 400
    for unset in ("/webhooks/acme/us", "/webhooks/acme/EU", "/webhooks/acme/default", "/webhooks/nosuch/eu"):
        assert client.post(unset, data=body, headers={"Acme-Secret": "eu"}).status_code == 404, unset
        assert client.get(unset).status_code == 404, unset
    with make_engine(settings).connect() as connection:
        stored = sorted(connection.execute(select(events.c.provider, events.c.event_id)).all())
    assert stored == [("acme", "a_1"), ("acme/eu", "a_1")]


def test_a_sources_enricher_caches_under_its_key(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'bridge.db'}")
    migrate(settings)
    store = Store(make_engine(settings))
    customer = {"id": "cus_1", "object": "customer", "email": "eu@acme.example"}
    event = Event("stripe/eu", "evt_1", "customer.updated", 1.0, True, None, None, "cus_1",
                  {"data": {"object": customer}})
    enricher = registry.enrichers(store, {"stripe/eu": None}, lambda: 1.0)["stripe/eu"]
    enricher.remember(event)
    assert store.cached_object("stripe", "cus_1") is None
    cached = store.cached_object("stripe/eu", "cus_1")
    assert cached is not None and cached[0]["email"] == "eu@acme.example"


def test_mappings_see_the_provider_and_the_source() -> None:
    payload: dict[str, Any] = {"id": "evt_1", "type": "customer.updated", "data": {"object": {"id": "cus_1"}}}
    for provider, source in (("stripe/eu", "eu"), ("stripe", "default")):
        event = Event(provider, "evt_1", "customer.updated", 1.0, True, None, None, "cus_1", payload)
        found = context_variables(event, {}, EvalOptions())
        assert (found["provider"], found["source"]) == ("stripe", source)
