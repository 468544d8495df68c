"""The expression sandbox: a Jinja2 environment that reads JSON data and calls only our functions.

Expressions see plain dicts and lists; `a.b` reads the key "b" (never a dict method), a missing or null
path is `Missing` (chainable, equal to none, None as a result). Every hook the compiled code goes through —
reading a key, calling, `*`, `+`, `**`, `%`, `~`, filters and tests — keeps to the bounds of
`bridge.mapping.bounds`: what it builds has a size limit, and the event's evaluation a CPU-time deadline.

Messages of errors raised here name the attribute or the operation, never a value: values come from the
event, and the messages end up in warnings the worker stores and logs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import ChainableUndefined, Undefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.environment import TemplateExpression
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.parser import Parser
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bridge.mapping import bounds, filters

__all__ = ["Expression", "Missing", "SandboxEnvironment", "SecurityError"]

MAX_NESTING = 50  # levels of the syntax tree; the shipped rules use under 10
_TOO_DEEP = f"nested more than {MAX_NESTING} levels deep"
SAFE_STRING_METHODS = frozenset({"lower", "upper", "strip", "startswith", "endswith"})
_SCALARS = (str, int, float, bool, type(None))


class Missing(ChainableUndefined):
    """A missing or null path: chains, is falsy, equals none, and becomes None as a result."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return other is None or isinstance(other, Undefined)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(None)

    @property
    def _undefined_message(self) -> str:
        """Names the attribute of `a.b` (written in the rule); an item `a[k]`'s key may be the event's data."""
        name = self._undefined_name
        what = repr(name) if isinstance(name, str) else "a value"
        return f"{what} is missing (absent or null)"


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja2's code generator, with `~` going through the environment like the other operators."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.call_concat((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


class SandboxEnvironment(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, narrowed to data access and our functions, within bounds."""

    intercepted_binops = frozenset({"**", "*", "%", "+"})
    code_generator_class = _BoundedCodeGenerator

    def __init__(self, is_function: Callable[[Any], bool]) -> None:
        super().__init__(undefined=Missing, autoescape=False)
        self._is_function = is_function
        self.globals = {}
        self.filters = filters.filters()
        self.tests = filters.tests()  # type: ignore[assignment]  # Jinja2 declares them as bare functions

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Refuse powers, repetitions, products and concatenations too costly to compute, and %-formatting."""
        bounds.tick()
        built = 0
        if operator == "**":
            bounds.check_power(left, right)
        elif operator == "*":
            built = bounds.check_product(left, right)
        elif operator == "+":
            built = bounds.check_sum(left, right)
        elif isinstance(left, str):
            raise SecurityError("string formatting with % is not allowed")
        bounds.charge(built)
        return super().call_binop(context, operator, left, right)

    def call_concat(self, values: tuple[Any, ...]) -> str:
        """`a ~ b`: the texts of the values joined, within bounds."""
        bounds.tick()
        texts = ["" if isinstance(value, Undefined) else bounds.stringify(value, "a text joined with ~")
                 for value in values]
        if sum(map(len, texts)) > bounds.MAX_VALUE:
            raise bounds.LimitExceeded(f"~ would build more than {bounds.MAX_VALUE} characters")
        bounds.charge(sum(map(len, texts)))
        return "".join(texts)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`a.b`: the key "b" of a dict, a few string methods, else Missing; private names are refused."""
        bounds.tick()
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
        """`a[k]`: a dict key, a list or string index or slice, else Missing (which never quotes `k`)."""
        bounds.tick()
        if isinstance(obj, Mapping):
            found = obj.get(argument) if isinstance(argument, str | int | float) else None
            return self._value(found, obj, None)
        if isinstance(obj, list | tuple | str) and isinstance(argument, int | slice):
            try:
                return self._value(obj[argument], obj, None)
            except IndexError:
                return self.undefined(obj=obj)
        return self.undefined(obj=obj)

    def _value(self, value: Any, obj: Any, name: str | None) -> Any:
        return self.undefined(obj=obj, name=name) if value is None else value

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Call only our functions and the safe string methods; Missing arguments arrive as None."""
        bounds.tick()
        if not (__self._is_function(__obj) or _is_safe_string_method(__obj)):
            raise SecurityError(f"a {type(__obj).__name__} value is not a function expressions may call")
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
        """The expression's value; Missing becomes None. Runs under the evaluation's bounds (its own, alone)."""
        if self._compiled is None:
            return self.source
        if not bounds.active():
            with bounds.evaluation():
                return self(variables)
        result = self._compiled(variables)
        if isinstance(result, Undefined):
            return None
        if not isinstance(result, _SCALARS):
            bounds.check(result, "the expression's value")
        return result

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
