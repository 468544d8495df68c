"""Standard Webhooks settings: the endpoint's signing secrets, read from the environment handed in.

A Standard Webhooks secret is `whsec_` followed by the base64 of the key (the prefix is optional); the key is the
decoded bytes. Several secrets, comma-separated, are accepted while one is rolled. A secret that does not decode
is refused at start, naming the variable and never echoing the value.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.errors import ConfigError
from bridge.providers.variables import secret_list

SECRET_VARIABLE = "STANDARD_WEBHOOK_SECRET"  # noqa: S105 (a variable name, not a secret)
PREFIX = "whsec_"
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


@dataclass(frozen=True)
class StandardConfig:
    """The signing keys (decoded bytes), in the order configured."""

    keys: tuple[bytes, ...] = field(repr=False)


def configure(env: Mapping[str, str]) -> StandardConfig | None:
    """The settings from `env`, or None when no secret is set; ConfigError when a secret is not one."""
    secrets = secret_list(env, SECRET_VARIABLE)
    if not secrets:
        return None
    return StandardConfig(tuple(decode_secret(secret, SECRET_VARIABLE) for secret in secrets))


def decode_secret(secret: str, variable: str) -> bytes:
    """The key a `whsec_<base64>` secret stands for (padding may be left out, as the official libraries allow)."""
    encoded = secret.removeprefix(PREFIX)
    if not _BASE64.fullmatch(encoded) or len(encoded.rstrip("=")) % 4 == 1:
        raise ConfigError(f"{variable}: a secret is not whsec_ followed by base64")
    try:
        key = base64.b64decode(encoded.rstrip("=") + "=" * (-len(encoded.rstrip("=")) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{variable}: a secret is not whsec_ followed by base64") from None
    if not key:
        raise ConfigError(f"{variable}: a secret decodes to an empty key")
    return key
