"""Braintree's settings, read from the environment mapping the core hands over (never `os.environ`).

Braintree signs webhooks with the API key pair of the merchant account: the public key names the pair in the
signature, the private key keys the HMAC (developer.paypal.com/braintree/docs/guides/webhooks/parse). Both are
needed; with neither set the endpoint is off, with one of them set the service refuses to start. Sandbox and
production have separate key pairs and separate webhook destinations, and the payload does not say which sent
it, so `BRAINTREE_ENVIRONMENT` only names where the keys come from (docs/providers/braintree.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.errors import ConfigError
from bridge.providers.variables import choice, text

PUBLIC_KEY = "BRAINTREE_PUBLIC_KEY"
PRIVATE_KEY = "BRAINTREE_PRIVATE_KEY"
MERCHANT_ID = "BRAINTREE_MERCHANT_ID"
ENVIRONMENT = "BRAINTREE_ENVIRONMENT"
VARIABLES = (PUBLIC_KEY, PRIVATE_KEY, MERCHANT_ID, ENVIRONMENT)
ENVIRONMENTS = ("production", "sandbox")  # the first is the default
# Braintree's keys and ids are short alphanumeric strings; '|' and '&' would break the signature's pairs.
_KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")


@dataclass(frozen=True)
class BraintreeConfig:
    """The API key pair that signs the webhooks, and where it comes from; `repr` never shows the private key."""

    public_key: str
    private_key: str = field(repr=False)
    merchant_id: str | None = None
    environment: str = "production"


def configure(env: Mapping[str, str]) -> BraintreeConfig | None:
    """The settings, or None when neither key is set; ConfigError naming the variable that is missing or wrong."""
    public_key = env.get(PUBLIC_KEY, "").strip()
    private_key = env.get(PRIVATE_KEY, "").strip()
    if not public_key and not private_key:
        return None
    if not public_key or not private_key:
        missing = PUBLIC_KEY if not public_key else PRIVATE_KEY
        raise ConfigError(f"{missing} must be set too: Braintree webhooks are verified with the key pair")
    for name, value in ((PUBLIC_KEY, public_key), (PRIVATE_KEY, private_key)):
        if not _KEY.fullmatch(value):
            raise ConfigError(f"{name} must be the key as the Braintree Control Panel shows it "
                              "(letters and digits)")
    merchant_id = text(env, MERCHANT_ID)
    if merchant_id is not None and not _KEY.fullmatch(merchant_id):
        raise ConfigError(f"{MERCHANT_ID} must be the merchant id as the Braintree Control Panel shows it")
    return BraintreeConfig(public_key, private_key, merchant_id, choice(env, ENVIRONMENT, ENVIRONMENTS))
