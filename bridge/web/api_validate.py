"""Validates a parsed JSON body against the API's JSON Schema, naming the JSON path of every problem.

It knows the keywords `bridge.web.api_schema` uses — `$ref` (local), `type`, `required`, `properties`,
`additionalProperties`, `propertyNames`, `minProperties`, `minLength`, `maxLength`, `pattern`, `minimum`, `items`,
`minItems`, `maxItems`, `anyOf`, and the vendor keywords `x-maxBytes` and `x-maxJsonBytes` — with JSON Schema's
meaning (a pattern's `$` is the end of the text, as in ECMA 262). A schema using another keyword is refused when
the validator is built, so a rule cannot be served without being enforced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

KNOWN = frozenset({
    "$schema", "$id", "$defs", "$ref", "title", "description", "type", "required", "properties",
    "additionalProperties", "propertyNames", "minProperties", "minLength", "maxLength", "pattern", "minimum",
    "items", "minItems", "maxItems", "anyOf", "x-maxBytes", "x-maxJsonBytes",
})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAMES = {"object": "an object", "array": "an array", "string": "a string", "integer": "an integer",
          "number": "a number", "boolean": "a boolean", "null": "null"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a body: where (a JSON path such as `$[2].properties.plan`) and what."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


def child(path: str, key: str | int) -> str:
    """The JSON path of a member or an item of `path`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if _IDENTIFIER.fullmatch(key) else f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def is_type(value: Any, name: str) -> bool:
    """JSON Schema's types: booleans are not numbers, and 1.0 is an integer."""
    if name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    kinds: dict[str, Any] = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
    return isinstance(value, kinds[name])


@cache
def pattern(source: str) -> re.Pattern[str]:
    # ECMA 262's `$` (no multiline flag) is the end of input; Python's `$` also matches before a final newline.
    return re.compile(source[:-1] + r"\Z" if source.endswith("$") and not source.endswith(r"\$") else source)


def _nodes(schema: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every schema node of a document, following the keywords that hold schemas."""
    yield schema
    children: list[Any] = [*schema.get("$defs", {}).values(), *schema.get("properties", {}).values(),
                           *schema.get("anyOf", ()), schema.get("propertyNames"), schema.get("items"),
                           schema.get("additionalProperties")]
    for node in children:
        if isinstance(node, Mapping):
            yield from _nodes(node)


class Validator:
    """Checks bodies against one schema document."""

    def __init__(self, document: Mapping[str, Any]):
        self.document = document
        for node in _nodes(document):
            unknown = set(node) - KNOWN
            if unknown:
                raise ValueError(f"the API schema uses keywords this validator does not know: {sorted(unknown)}")

    def problems(self, schema: Mapping[str, Any], value: Any, path: str = "$") -> list[Problem]:
        """Every problem of `value` against `schema` (a node of the document, or a `$ref` into it)."""
        return list(self._check(schema, value, path))

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            ref = str(schema["$ref"])
            if not ref.startswith("#/$defs/"):
                raise ValueError(f"only local references are supported, not {ref}")
            schema = self.document["$defs"][ref.removeprefix("#/$defs/")]
        return schema

    def _check(self, schema: Mapping[str, Any], value: Any, path: str) -> Iterator[Problem]:
        schema = self._resolve(schema)
        if "anyOf" in schema:
            yield from self._any_of(schema, value, path)
            return
        types = schema.get("type")
        if types is not None:
            names = [types] if isinstance(types, str) else list(types)
            if not any(is_type(value, name) for name in names):
                yield Problem(path, "must be " + _either([_NAMES[n] for n in names]))
                return
        if isinstance(value, str):
            yield from self._string(schema, value, path)
        elif isinstance(value, dict):
            yield from self._object(schema, value, path)
        elif isinstance(value, list):
            yield from self._array(schema, value, path)
        elif "minimum" in schema and is_type(value, "number") and value < schema["minimum"]:
            yield Problem(path, f"must be at least {schema['minimum']}")

    def _any_of(self, schema: Mapping[str, Any], value: Any, path: str) -> Iterator[Problem]:
        branches = [self._resolve(branch) for branch in schema["anyOf"]]
        found = [list(self._check(branch, value, path)) for branch in branches]
        if any(not problems for problems in found):
            return
        typed = [problems for branch, problems in zip(branches, found, strict=True) if _type_fits(branch, value)]
        if len(typed) == 1:
            yield from typed[0]
            return
        yield Problem(path, "must be " + str(schema.get("description") or _either(
            [_NAMES[str(branch.get("type"))] for branch in branches])))

    def _string(self, schema: Mapping[str, Any], value: str, path: str) -> Iterator[Problem]:
        if len(value) < schema.get("minLength", 0):
            yield Problem(path, "must not be empty" if schema["minLength"] == 1
                          else f"must be at least {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            yield Problem(path, f"must be at most {schema['maxLength']} characters")
        if "x-maxBytes" in schema and len(value.encode()) > schema["x-maxBytes"]:
            yield Problem(path, f"must be at most {schema['x-maxBytes']} bytes of UTF-8")
        if "pattern" in schema and not pattern(schema["pattern"]).search(value):
            yield Problem(path, "must be " + str(schema.get("description") or f"text matching {schema['pattern']}"))

    def _object(self, schema: Mapping[str, Any], value: dict[str, Any], path: str) -> Iterator[Problem]:
        for name in schema.get("required", ()):
            if name not in value:
                yield Problem(child(path, name), "is required")
        if len(value) < schema.get("minProperties", 0):
            yield Problem(path, f"must have at least {schema['minProperties']} member"
                          + ("s" if schema["minProperties"] > 1 else ""))
        if "x-maxJsonBytes" in schema:
            size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
            if size > schema["x-maxJsonBytes"]:
                yield Problem(path, f"must be at most {schema['x-maxJsonBytes']} bytes as compact JSON, not {size}")
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        names = schema.get("propertyNames")
        for name, member in value.items():
            where = child(path, name)
            if names is not None:
                named = list(self._check(names, name, where))
                if named:
                    yield Problem(where, "is not a valid name: " + named[0].message.removeprefix("must be "))
                    continue
            if name in properties:
                yield from self._check(properties[name], member, where)
            elif extra is False:
                yield Problem(where, "is not a field of this object" + _expected(properties))
            elif isinstance(extra, Mapping):
                yield from self._check(extra, member, where)

    def _array(self, schema: Mapping[str, Any], value: list[Any], path: str) -> Iterator[Problem]:
        if len(value) < schema.get("minItems", 0):
            yield Problem(path, f"must have at least {schema['minItems']} item" + ("s" if schema["minItems"] > 1
                                                                                     else ""))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            yield Problem(path, f"must have at most {schema['maxItems']} items, not {len(value)}")
            return
        if "items" in schema:
            for index, item in enumerate(value):
                yield from self._check(schema["items"], item, child(path, index))


def _type_fits(schema: Mapping[str, Any], value: Any) -> bool:
    types = schema.get("type")
    names = [types] if isinstance(types, str) else list(types or ())
    return any(is_type(value, name) for name in names)


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _expected(properties: Mapping[str, Any]) -> str:
    return f" (expected: {', '.join(properties)})" if properties else ""
