"""Readers for the kinds of setting provider packages share, from the environment mapping the core hands over.

Each reader takes the mapping and the variable's name, treats a blank value as unset, and raises a `ConfigError`
that names the variable (never its value, which may be a secret). What is particular to one provider (a site's
subdomain, a key's alphabet) stays in that provider's `config.py`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from bridge.errors import ConfigError

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})  # where plain http is allowed: a test server
_DIGITS = re.compile(r"[0-9]{1,9}")


def text(env: Mapping[str, str], name: str) -> str | None:
    """The variable's value with surrounding blanks removed; None when unset or blank."""
    return env.get(name, "").strip() or None


def secret_list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """The comma-separated secrets of a variable (several while one is rotated), blanks dropped."""
    return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())


def whole_number(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """A whole number written in digits, between `low` and `high`; `default` when unset."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not _DIGITS.fullmatch(raw):
        raise ConfigError(f"{name} must be a whole number, written in digits")
    value = int(raw)
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}")
    return value


def requests_per_second(env: Mapping[str, str], name: str, default: float) -> float:
    """A request budget toward a provider's API: a finite number between 0.1 and 1000; `default` when unset."""
    return number(env, name, default, 0.1, 1000.0, unit="requests per second")


def number(env: Mapping[str, str], name: str, default: float, low: float, high: float, unit: str = "") -> float:
    """A finite number between `low` and `high` (in `unit`, which messages name); `default` when unset. Messages name
    the variable, never its value."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    of = f" ({unit})" if unit else ""
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number{of}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number{of}")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g}{of}")
    return value


def choice(env: Mapping[str, str], name: str, choices: Sequence[str]) -> str:
    """One of `choices` (case ignored); the first of them when unset."""
    value = env.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        raise ConfigError(f"{name} must be one of: {', '.join(choices)}")
    return value


def address(env: Mapping[str, str], name: str, default: str, example: str, *, http_anywhere: bool = False) -> str:
    """An API's base address, without query, fragment or trailing slash; `default` when unset.

    https only, unless the host is a loopback test server (or `http_anywhere`); `example` ends the error message."""
    base = env.get(name, "").strip().rstrip("/") or default
    wrong = ConfigError(f"{name} must be an {'http(s)' if http_anywhere else 'https'} address such as {example}")
    try:
        parts = urlsplit(base)
        host = parts.hostname
    except ValueError:
        raise wrong from None
    plain = http_anywhere or host in LOOPBACK
    if parts.scheme not in ("https", "http") or (parts.scheme == "http" and not plain) or not host \
            or parts.query or parts.fragment:
        raise wrong
    return base
