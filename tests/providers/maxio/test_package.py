"""The Maxio package's module-level interface and settings."""

from __future__ import annotations

import pytest

import bridge.providers.maxio as maxio
from bridge.errors import ConfigError
from bridge.providers.maxio.api import MaxioApi
from bridge.providers.maxio.webhook import MaxioProvider


def test_package_exposes_the_protocol_names() -> None:
    assert maxio.NAME == "maxio"
    assert maxio.VARIABLES == ("MAXIO_WEBHOOK_SECRET", "MAXIO_SUBDOMAIN", "MAXIO_API_KEY")
    for name in ("configure", "webhook", "facts", "subscription", "source", "enrichment"):
        assert callable(getattr(maxio, name))


def test_configure_is_none_without_a_secret() -> None:
    assert maxio.configure({"MAXIO_SUBDOMAIN": "acme", "MAXIO_API_KEY": "k"}) is None


@pytest.mark.parametrize(("subdomain", "base"), [
    ("acme", "https://acme.chargify.com"), (" Acme-Co ", "https://acme-co.chargify.com"),
    ("acme.ebilling.maxio.com", "https://acme.ebilling.maxio.com"), ("acme.chargify.com", "https://acme.chargify.com"),
    ("http://127.0.0.1:8123/", "http://127.0.0.1:8123")])  # a loopback test server, taken whole
def test_configure_reads_the_site(subdomain: str, base: str) -> None:
    config = maxio.configure({"MAXIO_WEBHOOK_SECRET": "s1, s2", "MAXIO_SUBDOMAIN": subdomain, "MAXIO_API_KEY": "k"})
    assert config is not None and config.api_base == base and config.secrets == ("s1", "s2")
    assert isinstance(maxio.source(config), MaxioApi) and isinstance(maxio.webhook(config), MaxioProvider)


@pytest.mark.parametrize(("env", "variable"), [
    ({"MAXIO_API_KEY": "hidden-key"}, "MAXIO_SUBDOMAIN"),
    ({"MAXIO_SUBDOMAIN": "acme.example.com"}, "MAXIO_SUBDOMAIN"),
    ({"MAXIO_SUBDOMAIN": "https://acme.chargify.com"}, "MAXIO_SUBDOMAIN"),
    ({"MAXIO_SUBDOMAIN": "-acme"}, "MAXIO_SUBDOMAIN"),
    ({"MAXIO_SUBDOMAIN": "http://acme.chargify.com"}, "MAXIO_SUBDOMAIN"),  # plain http only to loopback
])
def test_configure_refuses_naming_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable) as caught:
        maxio.configure({"MAXIO_WEBHOOK_SECRET": "hidden-secret", **env})
    assert "hidden" not in str(caught.value)


def test_source_needs_the_key_and_repr_hides_secrets() -> None:
    config = maxio.configure({"MAXIO_WEBHOOK_SECRET": "hidden-secret", "MAXIO_SUBDOMAIN": "acme"})
    assert config is not None and maxio.source(config) is None
    keyed = maxio.configure({"MAXIO_WEBHOOK_SECRET": "hidden-secret", "MAXIO_SUBDOMAIN": "acme",
                             "MAXIO_API_KEY": "hidden-key"})
    assert "hidden" not in repr(config) and "hidden" not in repr(keyed) and "hidden" not in repr(maxio.source(keyed))
