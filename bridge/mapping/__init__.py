"""Mapping files: load and validate (`loader`), sandboxed expressions (`sandbox`), `functions`, `evaluate`."""

from bridge.mapping.evaluate import EvalOptions, evaluate
from bridge.mapping.loader import MappingSet, load_mappings

__all__ = ["EvalOptions", "MappingSet", "evaluate", "load_mappings"]
