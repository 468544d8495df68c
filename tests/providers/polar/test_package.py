"""The Polar package's module-level interface and settings."""

from __future__ import annotations

import pytest

import bridge.providers.polar as polar
from bridge.errors import ConfigError
from bridge.providers.polar.api import PolarApi


def test_package_exposes_the_protocol_names() -> None:
    assert polar.NAME == "polar"
    assert polar.VARIABLES == ("POLAR_WEBHOOK_SECRET", "POLAR_API_KEY", "POLAR_API_BASE",
                               "POLAR_REQUESTS_PER_SECOND")
    for name in ("configure", "webhook", "facts", "subscription", "source"):
        assert callable(getattr(polar, name))


def test_configure_is_none_without_a_secret() -> None:
    assert polar.configure({"POLAR_API_KEY": "polar_oat_x"}) is None


def test_configure_keeps_the_secret_as_it_is() -> None:
    config = polar.configure({"POLAR_WEBHOOK_SECRET": "whsec_Zq-4_Lm9 , whsec_second"})
    assert config is not None
    assert config.keys == (b"whsec_Zq-4_Lm9", b"whsec_second")
    assert (config.api_key, config.api_base) == (None, "https://api.polar.sh")


@pytest.mark.parametrize(("value", "expected"), [
    ("https://sandbox-api.polar.sh/", "https://sandbox-api.polar.sh"),
    ("http://127.0.0.1:8081", "http://127.0.0.1:8081"),
    ("  ", "https://api.polar.sh"),
])
def test_configure_reads_the_api_base(value: str, expected: str) -> None:
    config = polar.configure({"POLAR_WEBHOOK_SECRET": "whsec_x", "POLAR_API_BASE": value})
    assert config is not None and config.api_base == expected


@pytest.mark.parametrize("value", ["api.polar.sh", "ftp://api.polar.sh", "https://", "https://api.polar.sh/?x=1"])
def test_configure_refuses_a_bad_api_base_naming_it(value: str) -> None:
    with pytest.raises(ConfigError, match="POLAR_API_BASE"):
        polar.configure({"POLAR_WEBHOOK_SECRET": "whsec_x", "POLAR_API_BASE": value})


def test_config_repr_hides_secrets_and_key() -> None:
    config = polar.configure({"POLAR_WEBHOOK_SECRET": "whsec_hidden1", "POLAR_API_KEY": "polar_oat_hidden2"})
    assert "hidden1" not in repr(config) and "hidden2" not in repr(config)


def test_source_needs_the_api_key() -> None:
    without = polar.configure({"POLAR_WEBHOOK_SECRET": "whsec_x"})
    with_key = polar.configure({"POLAR_WEBHOOK_SECRET": "whsec_x", "POLAR_API_KEY": "polar_oat_x",
                                "POLAR_API_BASE": "https://sandbox-api.polar.sh"})
    assert without is not None and with_key is not None
    assert polar.source(without) is None
    found = polar.source(with_key)
    assert isinstance(found, PolarApi) and found.api_base == "https://sandbox-api.polar.sh"
