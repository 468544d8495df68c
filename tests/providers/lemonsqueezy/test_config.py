"""Lemon Squeezy's settings: one whole signing secret, the optional key and address, and the mode."""

from __future__ import annotations

import pytest

import bridge.providers.lemonsqueezy as lemonsqueezy
from bridge.errors import ConfigError
from bridge.providers.lemonsqueezy.config import API, configure, wanted


def test_configure_is_off_without_a_secret() -> None:
    assert configure({}) is None
    assert configure({"LEMONSQUEEZY_WEBHOOK_SECRET": "   "}) is None


def test_configure_defaults() -> None:
    config = configure({"LEMONSQUEEZY_WEBHOOK_SECRET": "s3cret,with,commas"})
    assert config is not None
    assert (config.secret, config.api_key, config.api_base, config.mode) == ("s3cret,with,commas", None, API, "live")
    assert lemonsqueezy.source(config) is None
    assert "s3cret" not in repr(config)


def test_configure_with_a_key_and_a_mode() -> None:
    config = configure({"LEMONSQUEEZY_WEBHOOK_SECRET": "s", "LEMONSQUEEZY_API_KEY": "k-123",
                        "LEMONSQUEEZY_MODE": "Both", "LEMONSQUEEZY_API_BASE": "http://127.0.0.1:9000/"})
    assert config is not None and (config.mode, config.api_base) == ("both", "http://127.0.0.1:9000")
    api = lemonsqueezy.source(config)
    assert api is not None and "k-123" not in repr(api)


@pytest.mark.parametrize(("env", "variable"), [
    ({"LEMONSQUEEZY_MODE": "sandbox"}, "LEMONSQUEEZY_MODE"),
    ({"LEMONSQUEEZY_API_BASE": "http://api.lemonsqueezy.com"}, "LEMONSQUEEZY_API_BASE"),
    ({"LEMONSQUEEZY_API_BASE": "api.lemonsqueezy.com"}, "LEMONSQUEEZY_API_BASE"),
    ({"LEMONSQUEEZY_API_KEY": "a\tb"}, "LEMONSQUEEZY_API_KEY"),
    ({"LEMONSQUEEZY_WEBHOOK_SECRET": "a\nb"}, "LEMONSQUEEZY_WEBHOOK_SECRET"),
])
def test_configure_refuses_unusable_values_naming_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable) as caught:
        configure({"LEMONSQUEEZY_WEBHOOK_SECRET": "the-secret", **env})
    assert "the-secret" not in str(caught.value)


@pytest.mark.parametrize(("livemode", "mode", "expected"), [
    (True, "live", True), (False, "live", False), (True, "test", False), (False, "test", True),
    (True, "both", True), (False, "both", True), (None, "live", True), (None, "test", True)])
def test_wanted_matches_meta_test_mode_against_the_mode(livemode: bool | None, mode: str, expected: bool) -> None:
    assert wanted(livemode, mode) is expected


def test_package_names_its_variables() -> None:
    assert lemonsqueezy.NAME == "lemonsqueezy"
    assert lemonsqueezy.VARIABLES == ("LEMONSQUEEZY_WEBHOOK_SECRET", "LEMONSQUEEZY_API_KEY", "LEMONSQUEEZY_API_BASE",
                                      "LEMONSQUEEZY_MODE")
