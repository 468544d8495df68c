"""Recurly's settings: the secrets list, the optional API key and the API address (US by default, EU documented)."""

from __future__ import annotations

import pytest

import bridge.providers.recurly as recurly
from bridge.errors import ConfigError
from bridge.providers.recurly.config import EU_API, US_API, configure


def test_recurly_configure_is_off_without_a_secret() -> None:
    assert configure({}) is None
    assert configure({"RECURLY_WEBHOOK_SECRET": " , "}) is None


def test_recurly_configure_reads_rotated_secrets_and_defaults_to_the_us_api() -> None:
    config = configure({"RECURLY_WEBHOOK_SECRET": "new, old"})
    assert config is not None
    assert (config.secrets, config.api_key, config.api_base) == (("new", "old"), None, US_API)
    assert recurly.source(config) is None
    assert "new" not in repr(config)


def test_recurly_configure_takes_the_eu_api_and_a_key() -> None:
    config = configure({"RECURLY_WEBHOOK_SECRET": "s", "RECURLY_API_KEY": "key123", "RECURLY_API_BASE": EU_API + "/"})
    assert config is not None and config.api_base == EU_API
    api = recurly.source(config)
    assert api is not None and api.api_base == EU_API
    assert "key123" not in repr(config) and "key123" not in repr(api)


@pytest.mark.parametrize(("env", "variable"), [
    ({"RECURLY_API_BASE": "ftp://v3.recurly.com"}, "RECURLY_API_BASE"),
    ({"RECURLY_API_BASE": "http://v3.recurly.com"}, "RECURLY_API_BASE"),
    ({"RECURLY_API_BASE": "https://v3.recurly.com?x=1"}, "RECURLY_API_BASE"),
    ({"RECURLY_API_KEY": "user:pass"}, "RECURLY_API_KEY"),
    ({"RECURLY_WEBHOOK_SECRET": "a\nb"}, "RECURLY_WEBHOOK_SECRET"),
])
def test_recurly_configure_refuses_unusable_values_naming_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable) as caught:
        configure({"RECURLY_WEBHOOK_SECRET": "secret-value", **env})
    assert "secret-value" not in str(caught.value) and "user:pass" not in str(caught.value)


def test_recurly_configure_allows_a_loopback_http_api_for_tests() -> None:
    config = configure({"RECURLY_WEBHOOK_SECRET": "s", "RECURLY_API_BASE": "http://127.0.0.1:8123"})
    assert config is not None and config.api_base == "http://127.0.0.1:8123"


def test_recurly_package_names_its_variables() -> None:
    assert recurly.NAME == "recurly"
    assert recurly.VARIABLES == ("RECURLY_WEBHOOK_SECRET", "RECURLY_API_KEY", "RECURLY_API_BASE")
