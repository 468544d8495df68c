"""What evaluating one event may cost: a CPU-time deadline, and the size of every value its expressions build.

Sizes count characters of text plus one per item or other value, through nested lists and dicts and as often as
a shared part is reached: `[['a' * 10000] * 10000] * 10000` holds three small objects but prints as 10**12
characters, and that is what `string`, `tojson` or `~` would make of it. Every step that builds text or a list
from its operands checks what it would build first, so no single step runs long or takes much memory:

- one value may be at most `MAX_VALUE` big, and the values one event builds together at most `MAX_BUILT`;
- the event's evaluation may use `EVALUATION_SECONDS` of CPU time. The sandbox's hooks (reading a key, calling,
  operators, filters, tests) call `tick()`, which raises `LimitExceeded` once that is used up: cooperative, so
  no signal or thread is needed and the worker goes on with the next event.

`over_bounds` finds at load what any event would exceed (a literal repetition too large, a power too high).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import SecurityError

MAX_VALUE = 2_000_000  # characters and items in one value: twice the default webhook body limit (1 MiB)
MAX_BUILT = 10 * MAX_VALUE  # all the values one event's expressions build together
EVALUATION_SECONDS = 1.0  # CPU time per event; the shipped mappings need about a millisecond
MAX_ITEMS = 10_000  # repetition of strings and lists
MAX_EXPONENT = 64
MAX_POWER_DIGITS = 30  # an integer power's result stays below 10**30
MAX_PRODUCT_BITS = 65536
_WALK_TICK = 4096  # nodes counted between two looks at the clock
_CONTAINERS = (list, tuple, dict)


class LimitExceeded(SecurityError):
    """A value an expression would build is too large, or the event's evaluation used up its time."""


@dataclass
class _Budget:
    """One event's evaluation: its CPU time, the wall-clock time at which to look at it again, what it built."""

    seconds: float
    cpu_start: float
    look_at: float
    built: int = 0

    def overdue(self) -> None:
        """Raise once the CPU time is used up; wall-clock time alone (a paused process) is not enough."""
        used = time.thread_time() - self.cpu_start
        if used >= self.seconds:
            raise LimitExceeded(f"evaluating the event took more than {self.seconds:g} s of CPU time")
        self.look_at = time.monotonic() + (self.seconds - used)


_CURRENT: ContextVar[_Budget | None] = ContextVar("bridge_evaluation", default=None)


@contextmanager
def evaluation(seconds: float = EVALUATION_SECONDS) -> Iterator[None]:
    """Evaluate the enclosed expressions under one budget (per thread); an enclosing budget stays in force."""
    if _CURRENT.get() is not None:
        yield
        return
    token = _CURRENT.set(_Budget(seconds, time.thread_time(), time.monotonic() + seconds))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def active() -> bool:
    """Whether a budget is in force on this thread."""
    return _CURRENT.get() is not None


def tick() -> None:
    """Raise LimitExceeded when the evaluation in progress has used up its time."""
    budget = _CURRENT.get()
    if budget is not None and time.monotonic() > budget.look_at:
        budget.overdue()


def charge(units: int) -> None:
    """Count what a step built against the event's `MAX_BUILT`."""
    budget = _CURRENT.get()
    if budget is None:
        return
    budget.built += units
    if budget.built > MAX_BUILT:
        raise LimitExceeded(f"the expressions built more than {MAX_BUILT} characters and items for one event")


def _scalar_size(value: Any) -> int:
    return len(value) if isinstance(value, str) else 1


def _children(value: Any) -> list[Any]:
    return [*value.keys(), *value.values()] if isinstance(value, dict) else list(value)


def size(value: Any, limit: int = MAX_VALUE) -> int:
    """The size of `value` (see the module's docstring), computed once per distinct container: counting costs what
    the value occupies in memory, not what it would print as. Stops with a result over `limit` once it is known."""
    if not isinstance(value, _CONTAINERS):
        return _scalar_size(value)
    known: dict[int, int] = {}
    opened: set[int] = set()
    pending, steps = [value], 0
    while pending:
        node = pending[-1]
        steps += 1
        if steps % _WALK_TICK == 0:
            tick()
        if id(node) in known:
            pending.pop()
            continue
        children = _children(node)
        if id(node) not in opened:
            opened.add(id(node))
            inner = [child for child in children if isinstance(child, _CONTAINERS) and id(child) not in known]
            if any(id(child) in opened for child in inner):
                raise LimitExceeded("a value contains itself")
            pending += inner
            continue
        total = 1 + sum(known[id(c)] if isinstance(c, _CONTAINERS) else _scalar_size(c) for c in children)
        known[id(node)] = total
        opened.discard(id(node))
        pending.pop()
        if total > limit:
            return total
    return known[id(value)]


def check(value: Any, what: str) -> int:
    """The size of `value`; LimitExceeded naming `what` when it is over `MAX_VALUE`."""
    found = size(value)
    if found > MAX_VALUE:
        raise LimitExceeded(f"{what} would be larger than {MAX_VALUE} characters and items")
    return found


def stringify(value: Any, what: str) -> str:
    """`str(value)`, once its size is known to be within bounds; the text is charged to the event."""
    if isinstance(value, str):
        return value
    check(value, what)
    text = str(value)
    charge(len(text))
    return text


def materialize(values: Iterable[Any], what: str) -> list[Any]:
    """The items of `values` as a list, at most `MAX_VALUE` of them, looking at the clock as they come."""
    if isinstance(values, list | tuple) and len(values) <= MAX_VALUE:
        charge(len(values))
        return list(values)
    found: list[Any] = []
    for item in values:
        found.append(item)
        if len(found) % _WALK_TICK == 0:
            tick()
        if len(found) > MAX_VALUE:
            raise LimitExceeded(f"{what} would have more than {MAX_VALUE} items")
    charge(len(found))
    return found


def check_power(left: Any, right: Any) -> None:
    """Refuse a power too costly to compute; the message quotes no operand (they may come from the event)."""
    if not isinstance(right, int | float) or not isinstance(left, int | float):
        return
    if abs(right) > MAX_EXPONENT:
        raise LimitExceeded(f"an exponent is larger than {MAX_EXPONENT}")
    digits = right * math.log10(abs(left)) if isinstance(left, int) and abs(left) > 1 else 0
    if digits > MAX_POWER_DIGITS:
        raise LimitExceeded(f"a power would be larger than 10**{MAX_POWER_DIGITS}")


def check_product(left: Any, right: Any) -> int:
    """Refuse a repetition or product too large; return the size of a repeated text or list (else 0)."""
    if _is_text_or_sequence(left) or _is_text_or_sequence(right):
        sequence, times = (left, right) if _is_text_or_sequence(left) else (right, left)
        if not isinstance(times, int) or times <= 0:
            return 0
        if len(sequence) * times > MAX_ITEMS:
            raise LimitExceeded(f"a repetition would make more than {MAX_ITEMS} items")
        built = size(sequence, MAX_VALUE // times + 1) * times
        if built > MAX_VALUE:
            raise LimitExceeded(f"a repetition would build more than {MAX_VALUE} characters and items")
        return built
    if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_PRODUCT_BITS:
        raise LimitExceeded("a product would be too large")
    return 0


def check_sum(left: Any, right: Any) -> int:
    """Refuse a concatenation of texts or lists too large; return its size (0 for numbers)."""
    if not (_is_text_or_sequence(left) and _is_text_or_sequence(right)):
        return 0
    built = size(left) + size(right)
    if built > MAX_VALUE:
        raise LimitExceeded(f"a concatenation would build more than {MAX_VALUE} characters and items")
    return built


def _is_text_or_sequence(value: Any) -> bool:
    return isinstance(value, str | list | tuple)


# At load: what any event would exceed.
def _number(node: nodes.Node) -> int | float | None:
    """The value of a constant numeric part of an expression (None: not constant, or not a number)."""
    if isinstance(node, nodes.Const) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, nodes.Neg):
        inner = _number(node.node)
        return None if inner is None else -inner
    if isinstance(node, nodes.Pow | nodes.Mul):
        left, right = _number(node.left), _number(node.right)
        if left is None or right is None:
            return None
        (check_power if isinstance(node, nodes.Pow) else check_product)(left, right)
        return left ** right if isinstance(node, nodes.Pow) else left * right
    return None


def _built(node: nodes.Node) -> int | None:
    """The size of the text or list a constant part of an expression builds (None: not constant, or a number)."""
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return len(node.value)
    if isinstance(node, nodes.List | nodes.Tuple):
        parts = [_built(item) if _number(item) is None else 1 for item in node.items]
        return None if None in parts else 1 + sum(part or 0 for part in parts)
    if isinstance(node, nodes.Mul):
        for sequence, count in ((node.left, node.right), (node.right, node.left)):
            built, times = _built(sequence), _number(count)
            if built is not None and isinstance(times, int):
                if isinstance(sequence, nodes.Const) and built * times > MAX_ITEMS:
                    raise LimitExceeded(f"a repetition would make more than {MAX_ITEMS} items")
                return built * max(times, 0)
    if isinstance(node, nodes.Add | nodes.Concat):
        parts = [_built(part) for part in (node.nodes if isinstance(node, nodes.Concat) else (node.left, node.right))]
        return None if None in parts else sum(part or 0 for part in parts)
    return None


def over_bounds(tree: nodes.Node) -> list[str]:
    """What evaluation would refuse whatever the event (the outermost such part of the expression): a literal
    repetition, power or product too large."""
    for node in tree.find_all((nodes.Mul, nodes.Pow, nodes.Add, nodes.Concat)):
        try:
            built = None if isinstance(node, nodes.Pow) else _built(node)
            _number(node)
        except (LimitExceeded, OverflowError) as exc:
            return [str(exc)]
        if built is not None and built > MAX_VALUE:
            return [f"builds about {built} characters and items, more than the {MAX_VALUE} a value may have"]
    return []
