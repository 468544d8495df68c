"""`bridge link import`: whose customers the links are."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.cli.links import provider_of
from bridge.errors import ConfigError
from bridge.providers import registry
from tests.conftest import make_settings, stripe_config


def test_links_provider_is_the_one_named_or_the_one_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    assert provider_of(make_settings(url), None) == "stripe"
    assert provider_of(make_settings(url), "stripe") == "stripe"
    with pytest.raises(ConfigError, match="no provider 'nosuch'"):
        provider_of(make_settings(url), "nosuch")
    monkeypatch.setattr(registry, "PACKAGES", ("stripe", "acme"))
    two = make_settings(url, providers={"stripe": stripe_config(), "acme": object()})
    with pytest.raises(ConfigError, match="name the provider with --provider: one of stripe, acme"):
        provider_of(two, None)
    assert provider_of(make_settings(url, providers={}), "stripe") == "stripe"
