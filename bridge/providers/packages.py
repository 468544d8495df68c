"""The provider package behind an event, found by its `provider` name: the one place the billing core asks.

It stands in for `bridge.providers.registry.package` until the registry exists; swapping it for the registry's
function is the only change the billing core needs.
"""

from __future__ import annotations

import importlib
from types import ModuleType

KNOWN = ("stripe",)


def function_modules() -> tuple[ModuleType, ...]:
    """The `functions` modules of the packages that have one: expression functions of their own (`FUNCTIONS`),
    their result types (`TYPES`) and the neutral replacement of each (`REPLACEMENTS`), kept for old overlays."""
    found = []
    for name in KNOWN:
        try:
            found.append(importlib.import_module(f"bridge.providers.{name}.functions"))
        except ModuleNotFoundError as exc:
            if exc.name != f"bridge.providers.{name}.functions":
                raise
    return tuple(found)


def package(name: str) -> ModuleType | None:
    """The package module of provider `name` (its `facts`, `subscription` …), or None for an unknown name."""
    return importlib.import_module(f"bridge.providers.{name}") if name in KNOWN else None
