"""The expression sandbox: a Jinja2 environment that reads JSON data and calls only our functions.

Expressions see plain dicts and lists; `a.b` reads the key "b" (never a dict method), a missing or null
path is `Missing` (chainable, equal to none, None as a result), and every operation whose cost grows with
its operands (`**`, `*`, `%`, `join`, `replace`, `sum`) is bounded so that no expression can hang.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jinja2 import ChainableUndefined, Undefined, nodes, pass_environment
from jinja2.environment import Environment, TemplateExpression
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.filters import FILTERS
from jinja2.parser import Parser
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.tests import TESTS

__all__ = ["Expression", "Missing", "SandboxEnvironment", "SecurityError"]

MAX_EXPONENT = 64
MAX_POWER_DIGITS = 30  # an integer power's result stays below 10**30
MAX_PRODUCT_BITS = 65536
MAX_ITEMS = 10_000  # repetition of strings and lists
MAX_TEXT = 100_000  # characters out of join and replace
MAX_NESTING = 50  # levels of the syntax tree; the shipped rules use under 10
_TOO_DEEP = f"nested more than {MAX_NESTING} levels deep"
SAFE_STRING_METHODS = frozenset({"lower", "upper", "strip", "startswith", "endswith"})
KEPT_FILTERS = (
    "default", "lower", "upper", "title", "trim", "round", "int", "float", "string", "length", "first",
    "last", "abs", "min", "max", "map", "select", "reject", "selectattr", "rejectattr", "list", "sort",
    "unique", "truncate", "tojson",
)


class Missing(ChainableUndefined):
    """A missing or null path: chains, is falsy, equals none, and becomes None as a result."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return other is None or isinstance(other, Undefined)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(None)


def _bounded_join(value: Iterable[Any], separator: str = "", attribute: str | None = None) -> str:
    items = [str(item if attribute is None else item.get(attribute)) for item in value]
    if sum(map(len, items)) + len(separator) * max(len(items) - 1, 0) > MAX_TEXT:
        raise SecurityError(f"join would be longer than {MAX_TEXT} characters")
    return separator.join(items)


def _bounded_replace(value: Any, old: str, new: str, count: int | None = None) -> str:
    text = str(value)
    times = text.count(old) if count is None else min(count, text.count(old))
    if len(text) + times * (len(new) - len(old)) > MAX_TEXT:
        raise SecurityError(f"replace would be longer than {MAX_TEXT} characters")
    return text.replace(old, new, -1 if count is None else count)


@pass_environment
def _numeric_sum(environment: Environment, value: Iterable[Any], attribute: str | None = None,
                 start: float = 0) -> float:
    items: list[Any] = [item if attribute is None else environment.getitem(item, attribute) for item in value]
    if not all(isinstance(item, int | float) and not isinstance(item, bool) for item in [start, *items]):
        raise SecurityError("sum adds numbers only")
    total: float = sum(items, start)
    return total


def _is_none(value: Any) -> bool:
    return value is None or isinstance(value, Undefined)


def _is_text_or_sequence(value: Any) -> bool:
    return isinstance(value, str | list | tuple)


def _check_power(left: Any, right: Any) -> None:
    if not isinstance(right, int | float) or not isinstance(left, int | float):
        return
    if abs(right) > MAX_EXPONENT:
        raise SecurityError(f"exponent {right} is larger than {MAX_EXPONENT}")
    digits = right * math.log10(abs(left)) if isinstance(left, int) and abs(left) > 1 else 0
    if digits > MAX_POWER_DIGITS:
        raise SecurityError(f"the power would be larger than 10**{MAX_POWER_DIGITS}")


def _check_product(left: Any, right: Any) -> None:
    if _is_text_or_sequence(left) or _is_text_or_sequence(right):
        sequence, times = (left, right) if _is_text_or_sequence(left) else (right, left)
        if isinstance(times, int) and len(sequence) * times > MAX_ITEMS:
            raise SecurityError(f"repetition would make more than {MAX_ITEMS} items")
    elif isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_PRODUCT_BITS:
            raise SecurityError("the product would be too large")


class SandboxEnvironment(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, narrowed to data access and our functions."""

    intercepted_binops = frozenset({"**", "*", "%"})

    def __init__(self, is_function: Callable[[Any], bool]) -> None:
        super().__init__(undefined=Missing, autoescape=False)
        self._is_function = is_function
        self.globals = {}
        self.filters = {name: FILTERS[name] for name in KEPT_FILTERS}
        self.filters.update(join=_bounded_join, replace=_bounded_replace, sum=_numeric_sum)
        self.tests = {**TESTS, "none": _is_none}

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Refuse powers, repetitions and products too costly to compute, and %-formatting of strings."""
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            _check_product(left, right)
        elif isinstance(left, str):
            raise SecurityError("string formatting with % is not allowed")
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`a.b`: the key "b" of a dict, a few string methods, else Missing; private names are refused."""
        if attribute.startswith("_"):
            raise SecurityError(f"access to attribute {attribute!r} is not allowed")
        if isinstance(obj, Mapping):
            return self._value(obj.get(attribute), obj, attribute)
        if isinstance(obj, str) and not isinstance(obj, Undefined):
            if attribute not in SAFE_STRING_METHODS:
                raise SecurityError(f"string method {attribute!r} is not allowed")
            return getattr(obj, attribute)
        return self.undefined(obj=obj, name=attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """`a[k]`: a dict key, a list or string index or slice, else Missing."""
        if isinstance(obj, Mapping):
            found = obj.get(argument) if isinstance(argument, str | int | float) else None
            return self._value(found, obj, argument)
        if isinstance(obj, list | tuple | str) and isinstance(argument, int | slice):
            try:
                return self._value(obj[argument], obj, argument)
            except IndexError:
                return self.undefined(obj=obj, name=str(argument))
        if isinstance(argument, str) and not isinstance(obj, Undefined):
            return self.getattr(obj, argument)
        return self.undefined(obj=obj, name=str(argument))

    def _value(self, value: Any, obj: Any, name: Any) -> Any:
        return self.undefined(obj=obj, name=str(name)) if value is None else value

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Call only our functions and the safe string methods; Missing arguments arrive as None."""
        if not (__self._is_function(__obj) or _is_safe_string_method(__obj)):
            raise SecurityError(f"{__obj!r} is not a function expressions may call")
        args = tuple(None if isinstance(arg, Undefined) else arg for arg in args)
        kwargs = {key: None if isinstance(value, Undefined) else value for key, value in kwargs.items()}
        return __obj(*args, **kwargs)


def _is_safe_string_method(obj: Any) -> bool:
    owner = getattr(obj, "__self__", None)
    return isinstance(owner, str) and getattr(obj, "__name__", "") in SAFE_STRING_METHODS


class Expression:
    """One compiled expression, or a literal YAML scalar, evaluated against the context variables."""

    def __init__(self, source: Any, compiled: TemplateExpression | None = None) -> None:
        self.source = source
        self._compiled = compiled

    def __call__(self, variables: Mapping[str, Any]) -> Any:
        """The expression's value; Missing becomes None."""
        if self._compiled is None:
            return self.source
        result = self._compiled(variables)
        return None if isinstance(result, Undefined) else result

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


def parse(environment: SandboxEnvironment, source: str) -> nodes.Template:
    """The syntax tree of one expression (raises TemplateSyntaxError, also when it nests too deeply to handle)."""
    try:
        parser = Parser(environment, source, state="variable")
        expression = parser.parse_expression()
        if not parser.stream.eos:
            parser.fail("unexpected text after the expression")
    except RecursionError:
        raise TemplateSyntaxError(_TOO_DEEP, 1) from None
    if _depth(expression) > MAX_NESTING:
        raise TemplateSyntaxError(_TOO_DEEP, 1)
    tree = nodes.Template([nodes.Output([expression])], lineno=1)
    tree.set_environment(environment)
    return tree


def _depth(root: nodes.Node) -> int:
    """How deep the syntax tree nests (a loop: the tree may be deeper than Python's recursion limit)."""
    deepest, pending = 0, [(root, 1)]
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        pending += [(child, depth + 1) for child in node.iter_child_nodes()]
    return deepest


def forbidden_names(tree: nodes.Template) -> list[str]:
    """Private names and Jinja's `self`: ways out of the sandbox, refused at load."""
    names = [node.attr for node in tree.find_all(nodes.Getattr) if node.attr.startswith("_")]
    variables = [node.name for node in tree.find_all(nodes.Name)]
    return names + [name for name in variables if name.startswith("_") or name == "self"]


def compile_expression(environment: SandboxEnvironment, source: str) -> Expression:
    """Compile once; evaluation then only runs the compiled code."""
    return Expression(source, environment.compile_expression(source, undefined_to_none=True))
