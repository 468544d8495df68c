"""The provider package behind an event, found by its `provider` name: the one place the billing core asks.

It stands in for `bridge.providers.registry.package` until the registry exists; swapping it for the registry's
function is the only change the billing core needs.
"""

from __future__ import annotations

import importlib
from types import ModuleType

KNOWN = ("stripe",)


def mapping_module(name: str) -> ModuleType | None:
    """The package's `mapping` module, when it has one: what the mapping engine may ask of it beyond the model
    (`payload`, `admit`, `tie_rank`, its own expression functions `FUNCTIONS` with `TYPES` and `REPLACEMENTS`)."""
    if name not in KNOWN:
        return None
    try:
        return importlib.import_module(f"bridge.providers.{name}.mapping")
    except ModuleNotFoundError as exc:
        if exc.name != f"bridge.providers.{name}.mapping":
            raise
        return None


def mapping_modules() -> tuple[ModuleType, ...]:
    """Every package's `mapping` module."""
    return tuple(module for name in KNOWN if (module := mapping_module(name)) is not None)


def package(name: str) -> ModuleType | None:
    """The package module of provider `name` (its `facts`, `subscription` …), or None for an unknown name."""
    return importlib.import_module(f"bridge.providers.{name}") if name in KNOWN else None
