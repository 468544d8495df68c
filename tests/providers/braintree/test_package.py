"""The Braintree package's module-level interface and settings."""

from __future__ import annotations

import pytest

import bridge.providers.braintree as braintree
from bridge.errors import ConfigError
from bridge.providers.braintree.webhook import BraintreeProvider

KEYS = {"BRAINTREE_PUBLIC_KEY": "pub4kq9z", "BRAINTREE_PRIVATE_KEY": "priv7hidden2x"}


def test_package_exposes_the_protocol_names() -> None:
    assert braintree.NAME == "braintree"
    assert braintree.VARIABLES == ("BRAINTREE_PUBLIC_KEY", "BRAINTREE_PRIVATE_KEY", "BRAINTREE_MERCHANT_ID",
                                   "BRAINTREE_ENVIRONMENT")
    for name in ("configure", "webhook", "facts", "subscription", "source"):
        assert callable(getattr(braintree, name))


def test_configure_is_none_without_keys() -> None:
    assert braintree.configure({"BRAINTREE_MERCHANT_ID": "m1"}) is None


def test_configure_reads_the_pair_and_defaults_to_production() -> None:
    config = braintree.configure({**KEYS, "BRAINTREE_MERCHANT_ID": " m1x "})
    assert config is not None
    assert (config.public_key, config.merchant_id, config.environment) == ("pub4kq9z", "m1x", "production")
    assert braintree.configure({**KEYS, "BRAINTREE_ENVIRONMENT": "Sandbox"}).environment == "sandbox"  # type: ignore[union-attr]


@pytest.mark.parametrize(("env", "variable"), [
    ({"BRAINTREE_PUBLIC_KEY": "pub"}, "BRAINTREE_PRIVATE_KEY"),
    ({"BRAINTREE_PRIVATE_KEY": "priv7hidden2x"}, "BRAINTREE_PUBLIC_KEY"),
    ({**KEYS, "BRAINTREE_PUBLIC_KEY": "pub|other"}, "BRAINTREE_PUBLIC_KEY"),
    ({**KEYS, "BRAINTREE_PRIVATE_KEY": "priv&7hidden2x"}, "BRAINTREE_PRIVATE_KEY"),
    ({**KEYS, "BRAINTREE_ENVIRONMENT": "development"}, "BRAINTREE_ENVIRONMENT"),
    ({**KEYS, "BRAINTREE_MERCHANT_ID": "m 1"}, "BRAINTREE_MERCHANT_ID"),
])
def test_configure_refuses_naming_the_variable_without_echoing_secrets(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable) as caught:
        braintree.configure(env)
    assert "hidden2x" not in str(caught.value)


def test_config_repr_hides_the_private_key() -> None:
    assert "hidden2x" not in repr(braintree.configure(KEYS))


def test_webhook_and_source() -> None:
    config = braintree.configure(KEYS)
    assert config is not None
    assert isinstance(braintree.webhook(config), BraintreeProvider)
    assert braintree.source(config) is None
