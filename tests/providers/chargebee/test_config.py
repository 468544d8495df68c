"""Chargebee's settings: both webhook credentials or none, strict values, messages that never echo a secret."""

from __future__ import annotations

import pytest

from bridge.errors import ConfigError
from bridge.providers import chargebee
from bridge.providers.chargebee.config import ChargebeeConfig, configure

CREDENTIALS = {"CHARGEBEE_WEBHOOK_USERNAME": "hooks", "CHARGEBEE_WEBHOOK_PASSWORD": "s3cret-Pa55word"}


def test_chargebee_configure_off_without_credentials() -> None:
    assert configure({}) is None
    assert configure({"CHARGEBEE_WEBHOOK_USERNAME": " ", "CHARGEBEE_SITE": "acme"}) is None


def test_chargebee_configure_reads_credentials_only() -> None:
    config = configure(CREDENTIALS)
    assert config == ChargebeeConfig("hooks", "s3cret-Pa55word")
    assert "s3cret" not in repr(config)


def test_chargebee_configure_api_base_defaults_to_the_site() -> None:
    config = configure({**CREDENTIALS, "CHARGEBEE_SITE": "acme-test", "CHARGEBEE_API_KEY": "test_key123"})
    assert config is not None
    assert config.api_base == "https://acme-test.chargebee.com/api/v2"
    assert "test_key123" not in repr(config)


def test_chargebee_configure_api_base_override_wins() -> None:
    config = configure({**CREDENTIALS, "CHARGEBEE_API_KEY": "k", "CHARGEBEE_API_BASE": "http://127.0.0.1:9/api/v2/"})
    assert config is not None and config.api_base == "http://127.0.0.1:9/api/v2"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"CHARGEBEE_WEBHOOK_USERNAME": "hooks"}, "CHARGEBEE_WEBHOOK_PASSWORD"),
        ({"CHARGEBEE_WEBHOOK_PASSWORD": "s3cret-Pa55word"}, "CHARGEBEE_WEBHOOK_USERNAME"),
        ({**CREDENTIALS, "CHARGEBEE_WEBHOOK_USERNAME": "ho:oks"}, "CHARGEBEE_WEBHOOK_USERNAME"),
        ({**CREDENTIALS, "CHARGEBEE_WEBHOOK_PASSWORD": "s3cret\nPa55word"}, "CHARGEBEE_WEBHOOK_PASSWORD"),
        ({**CREDENTIALS, "CHARGEBEE_WEBHOOK_PASSWORD": "s3cret-Pa55word" * 100}, "CHARGEBEE_WEBHOOK_PASSWORD"),
        ({**CREDENTIALS, "CHARGEBEE_SITE": "Acme.chargebee.com"}, "CHARGEBEE_SITE"),
        ({**CREDENTIALS, "CHARGEBEE_SITE": "-acme"}, "CHARGEBEE_SITE"),
        ({**CREDENTIALS, "CHARGEBEE_API_KEY": "k"}, "CHARGEBEE_SITE"),
        ({**CREDENTIALS, "CHARGEBEE_API_BASE": "ftp://acme"}, "CHARGEBEE_API_BASE"),
        ({**CREDENTIALS, "CHARGEBEE_API_BASE": "acme.chargebee.com"}, "CHARGEBEE_API_BASE"),
    ],
)
def test_chargebee_configure_refuses(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names) as raised:
        configure(env)
    assert "s3cret" not in str(raised.value)


def test_chargebee_package_exposes_the_protocol() -> None:
    assert chargebee.NAME == "chargebee"
    assert chargebee.VARIABLES == ("CHARGEBEE_WEBHOOK_USERNAME", "CHARGEBEE_WEBHOOK_PASSWORD", "CHARGEBEE_SITE",
                                   "CHARGEBEE_API_KEY", "CHARGEBEE_API_BASE", "CHARGEBEE_REQUESTS_PER_SECOND")
    config = chargebee.configure(CREDENTIALS)
    assert config is not None
    assert chargebee.webhook(config).name == "chargebee"
    assert chargebee.source(config) is None
    with_key = chargebee.configure({**CREDENTIALS, "CHARGEBEE_SITE": "acme", "CHARGEBEE_API_KEY": "k"})
    assert with_key is not None and chargebee.source(with_key) is not None
