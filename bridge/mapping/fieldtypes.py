"""The Pendo type each mapped field is expected to have: declared in `types:`, else inferred, else text.

Mapping files speak of text / number / boolean / date; Pendo's schema API calls them string / number /
boolean / time.
"""

from __future__ import annotations

from typing import Any

from jinja2 import nodes

from bridge.mapping.functions import PROVIDER_TYPES

PENDO_TYPES = {"text": "string", "number": "number", "boolean": "boolean", "date": "time"}
MAPPING_TYPES = {pendo: ours for ours, pendo in PENDO_TYPES.items()}
DEFAULT_TYPE = "text"
FUNCTION_TYPES = {"money": "number", "date": "date", "upper": "text", "lower": "text", **PROVIDER_TYPES}


def literal_type(value: Any) -> str | None:
    """The type of a YAML literal value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "text" if isinstance(value, str) else None


def _node_type(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Const):
        return literal_type(node.value)
    if isinstance(node, nodes.Compare | nodes.Not | nodes.Test):
        return "boolean"
    if isinstance(node, nodes.Concat):
        return "text"
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name):
        if node.node.name == "coalesce":
            found = [_node_type(arg) for arg in node.args]
            return next((kind for kind in found if kind), None)
        return FUNCTION_TYPES.get(node.node.name)
    if isinstance(node, nodes.CondExpr):
        return _node_type(node.expr1) or (_node_type(node.expr2) if node.expr2 else None)
    if isinstance(node, nodes.Add | nodes.Sub | nodes.Mul | nodes.Div | nodes.FloorDiv | nodes.Mod):
        return "number"
    return None


def infer_type(tree: nodes.Template) -> str | None:
    """The type an expression's result has, when its outermost operation tells."""
    output = tree.body[0]
    if isinstance(output, nodes.Output) and output.nodes:
        return _node_type(output.nodes[0])
    return None
