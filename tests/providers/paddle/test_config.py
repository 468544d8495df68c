"""Paddle's settings: read from the mapping handed in, strict, and never echoing a secret."""

from __future__ import annotations

import pytest

import bridge.providers.paddle as paddle
from bridge.errors import ConfigError
from bridge.providers.base import Package
from bridge.providers.paddle.api import PaddleApi
from bridge.providers.paddle.config import LIVE_API_BASE, SANDBOX_API_BASE, PaddleConfig, configure
from bridge.providers.paddle.webhook import PaddleProvider

SECRET = "pdl_ntfset_01hzzzzzzzzzzzzzzzzzzzzzzz_secretValue"


def test_configure_is_none_without_a_secret() -> None:
    assert configure({}) is None
    assert configure({"PADDLE_WEBHOOK_SECRET": " , "}) is None


def test_configure_reads_defaults() -> None:
    config = configure({"PADDLE_WEBHOOK_SECRET": SECRET})
    assert config == PaddleConfig(secrets=(SECRET,), tolerance=300, api_key=None, api_base=LIVE_API_BASE)


def test_configure_reads_a_comma_separated_list_of_secrets_for_rotation() -> None:
    config = configure({"PADDLE_WEBHOOK_SECRET": f" {SECRET} , pdl_ntfset_old ,"})
    assert config is not None and config.secrets == (SECRET, "pdl_ntfset_old")


def test_configure_reads_every_variable() -> None:
    config = configure({"PADDLE_WEBHOOK_SECRET": SECRET, "PADDLE_SIGNATURE_TOLERANCE_SECONDS": "5",
                        "PADDLE_API_KEY": " pdl_sdbx_apikey_x ", "PADDLE_API_BASE": SANDBOX_API_BASE + "/"})
    assert config == PaddleConfig((SECRET,), 5, "pdl_sdbx_apikey_x", SANDBOX_API_BASE)


@pytest.mark.parametrize(("name", "value"), [
    ("PADDLE_SIGNATURE_TOLERANCE_SECONDS", "abc"),
    ("PADDLE_SIGNATURE_TOLERANCE_SECONDS", "-1"),
    ("PADDLE_SIGNATURE_TOLERANCE_SECONDS", "0"),
    ("PADDLE_SIGNATURE_TOLERANCE_SECONDS", "1.5"),
    ("PADDLE_SIGNATURE_TOLERANCE_SECONDS", "3601"),
    ("PADDLE_SIGNATURE_TOLERANCE_SECONDS", "٣٠٠"),
    ("PADDLE_API_BASE", "ftp://api.paddle.com"),
    ("PADDLE_API_BASE", "http://api.paddle.com"),
    ("PADDLE_API_BASE", "https://api.paddle.com/?x=1"),
    ("PADDLE_API_BASE", "https://[::1"),
    ("PADDLE_API_BASE", "api.paddle.com"),
])
def test_configure_refuses_a_bad_value_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name) as raised:
        configure({"PADDLE_WEBHOOK_SECRET": SECRET, name: value})
    assert SECRET not in str(raised.value)


def test_configure_allows_a_loopback_http_base_for_a_test_server() -> None:
    config = configure({"PADDLE_WEBHOOK_SECRET": SECRET, "PADDLE_API_BASE": "http://127.0.0.1:8123"})
    assert config is not None and config.api_base == "http://127.0.0.1:8123"


def test_config_repr_shows_no_secret_or_key() -> None:
    config = PaddleConfig((SECRET,), api_key="pdl_live_apikey_secretvalue")
    assert SECRET not in repr(config) and "secretvalue" not in repr(config)


def test_package_exposes_the_protocol() -> None:
    expected = {"NAME", "VARIABLES", "configure", "webhook", "facts", "subscription", "source"}
    assert expected <= set(vars(paddle)) and expected == set(Package.__annotations__) | {
        name for name in vars(Package) if not name.startswith("_")}
    assert paddle.NAME == "paddle"
    assert paddle.VARIABLES == ("PADDLE_WEBHOOK_SECRET", "PADDLE_SIGNATURE_TOLERANCE_SECONDS", "PADDLE_API_KEY",
                                "PADDLE_API_BASE", "PADDLE_REQUESTS_PER_SECOND")
    config = paddle.configure({"PADDLE_WEBHOOK_SECRET": SECRET, "PADDLE_SIGNATURE_TOLERANCE_SECONDS": "9"})
    assert config is not None
    provider = paddle.webhook(config)
    assert isinstance(provider, PaddleProvider) and provider.name == "paddle"
    assert paddle.source(config) is None
    source = paddle.source(PaddleConfig((SECRET,), api_key="key", api_base=SANDBOX_API_BASE))
    assert isinstance(source, PaddleApi) and source.base == SANDBOX_API_BASE
