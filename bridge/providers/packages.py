"""The provider package behind an event, found by its `provider` name: the one place the billing core asks.

It stands in for `bridge.providers.registry.package` until the registry exists; swapping it for the registry's
function is the only change the billing core needs.
"""

from __future__ import annotations

import importlib
from types import ModuleType

KNOWN = ("stripe",)


def package(name: str) -> ModuleType | None:
    """The package module of provider `name` (its `facts`, `subscription` …), or None for an unknown name."""
    return importlib.import_module(f"bridge.providers.{name}") if name in KNOWN else None
