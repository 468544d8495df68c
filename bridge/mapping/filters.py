"""The filters and tests expressions may use: a few of Jinja2's, each bounded (`bridge.mapping.bounds`).

Every filter and test looks at the clock before it runs, so that a `map` or `select` over many items stops at
the event's deadline. Those that turn a value into text (`string`, `tojson`, `lower`, ...) or gather items
(`list`, `sort`, `unique`, `sum`, `min`, `max`) check the size of what they would build first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

from jinja2 import Undefined, pass_environment
from jinja2.environment import Environment
from jinja2.filters import FILTERS
from jinja2.tests import TESTS

from bridge.mapping import bounds
from bridge.mapping.bounds import LimitExceeded

MAX_TEXT = 100_000  # characters out of join and replace
PACED_FILTERS = (
    "default", "round", "int", "float", "length", "first", "last", "abs", "map", "select", "reject", "selectattr",
    "rejectattr", "truncate",
)
TEXT_FILTERS = ("lower", "upper", "title", "trim")  # Jinja2's turn any value into text first


def _paced(function: Callable[..., Any]) -> Callable[..., Any]:
    """`function`, looking at the clock before each call (Jinja2's pass_* marker is kept by `wraps`)."""
    @functools.wraps(function)
    def paced(*args: Any, **kwargs: Any) -> Any:
        bounds.tick()
        return function(*args, **kwargs)
    return paced


def _on_text(function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter of text, given any value as bounded text."""
    @functools.wraps(function)
    def on_text(value: Any, *args: Any, **kwargs: Any) -> Any:
        bounds.tick()
        return function(bounds.stringify(value, f"the text for {function.__name__}"), *args, **kwargs)
    return on_text


def _on_list(function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that gathers its items (an environment filter), given them as a bounded list."""
    @functools.wraps(function)
    def on_list(environment: Environment, value: Iterable[Any], *args: Any, **kwargs: Any) -> Any:
        bounds.tick()
        return function(environment, bounds.materialize(value, "its input"), *args, **kwargs)
    return on_list


def _string(value: Any) -> str:
    bounds.tick()
    return bounds.stringify(value, "the text of a value")


def _list(value: Any) -> list[Any]:
    bounds.tick()
    return bounds.materialize(value, "a list")


def _tojson(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Any:
        bounds.tick()
        bounds.check(value, "the JSON of a value")
        text = original(eval_ctx, value, indent)
        bounds.charge(len(text))
        return text
    return tojson


def _round(value: Any, precision: int = 0, method: str = "common") -> Any:
    """Jinja2's `round`, with a precision that cannot ask for 10**(10**9)."""
    bounds.tick()
    if not isinstance(precision, int) or abs(precision) > bounds.MAX_EXPONENT:
        raise LimitExceeded(f"round takes a precision between -{bounds.MAX_EXPONENT} and {bounds.MAX_EXPONENT}")
    return FILTERS["round"](value, precision, method)


def _join(value: Iterable[Any], separator: str = "", attribute: str | None = None) -> str:
    bounds.tick()
    separator = bounds.stringify(separator, "a separator")
    items: list[str] = []
    length = 0
    for item in value:
        text = bounds.stringify(item if attribute is None else item.get(attribute), "an item of a join")
        length += len(text) + (len(separator) if items else 0)
        if length > MAX_TEXT:
            raise LimitExceeded(f"join would be longer than {MAX_TEXT} characters")
        items.append(text)
    bounds.charge(length)
    return separator.join(items)


def _replace(value: Any, old: str, new: str, count: int | None = None) -> str:
    bounds.tick()
    text = bounds.stringify(value, "the text for replace")
    old, new = bounds.stringify(old, "replace's text"), bounds.stringify(new, "replace's text")
    times = text.count(old) if count is None else min(count, text.count(old))
    if len(text) + times * (len(new) - len(old)) > MAX_TEXT:
        raise LimitExceeded(f"replace would be longer than {MAX_TEXT} characters")
    found = text.replace(old, new, -1 if count is None else count)
    bounds.charge(len(found))
    return found


@pass_environment
def _numeric_sum(environment: Environment, value: Iterable[Any], attribute: str | None = None,
                 start: float = 0) -> float:
    """Numbers only, each refused as it comes: a sum never gathers texts or lists first."""
    bounds.tick()
    total: float = _number(start)
    for count, item in enumerate(value):
        total += _number(item if attribute is None else environment.getitem(item, attribute))
        if count % 256 == 255:
            bounds.tick()
    return total


def _number(value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise LimitExceeded("sum adds numbers only")
    return value


def _is_none(value: Any) -> bool:
    return value is None or isinstance(value, Undefined)


def _paced_items(function: Callable[..., Any]) -> Callable[..., Any]:
    """An environment filter that walks its items one by one, looking at the clock as they come."""
    @functools.wraps(function)
    def paced(environment: Environment, value: Iterable[Any], *args: Any, **kwargs: Any) -> Any:
        bounds.tick()
        return function(environment, _ticking(value), *args, **kwargs)
    return paced


def _ticking(values: Iterable[Any]) -> Iterator[Any]:
    for count, item in enumerate(values):
        if count % 256 == 255:
            bounds.tick()
        yield item


def filters() -> dict[str, Callable[..., Any]]:
    """Every filter expressions may use, by name."""
    table = {name: _paced(FILTERS[name]) for name in PACED_FILTERS}
    table.update({name: _on_text(FILTERS[name]) for name in TEXT_FILTERS})
    table.update({name: _on_list(FILTERS[name]) for name in ("sort", "unique")})
    table.update({name: _paced_items(FILTERS[name]) for name in ("min", "max")})
    table.update(string=_string, list=_list, tojson=_tojson(FILTERS["tojson"]), round=_round, join=_join,
                 replace=_replace, sum=_numeric_sum)
    return table


def tests() -> dict[str, Callable[..., Any]]:
    """Every test (`is ...`, `select('...')`) expressions may use, by name."""
    paced = {name: _paced(cast(Callable[..., Any], test)) for name, test in TESTS.items()}
    return {**paced, "none": _paced(_is_none)}
