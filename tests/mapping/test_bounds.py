"""The bounds of one evaluation: sizes of what expressions build, and the CPU-time deadline."""

import time

import pytest

from bridge.mapping import bounds
from bridge.mapping.bounds import MAX_VALUE, LimitExceeded, evaluation, size, tick
from bridge.mapping.functions import Functions, is_function
from bridge.mapping.sandbox import SandboxEnvironment, compile_expression, parse

NAME = "n" * 100  # a payload value the expressions below repeat


def run(source, seconds=bounds.EVALUATION_SECONDS, **variables):
    expression = compile_expression(SandboxEnvironment(is_function), source)
    with evaluation(seconds):
        return expression({"object": {"name": NAME, "numbers": list(range(20_000))}, **Functions().namespace(),
                           **variables})


def refused_fast(source, **variables):
    started = time.monotonic()
    with pytest.raises(LimitExceeded) as caught:
        run(source, **variables)
    assert time.monotonic() - started < 1.0
    return str(caught.value)


def test_size_counts_shared_parts_as_often_as_they_are_reached():
    inner = ["abc"] * 10
    assert size("abcd") == 4 and size(7) == 1 and size(None) == 1
    assert size(inner) == 31
    assert size([inner, inner, {"k": inner}]) == 1 + 31 + 31 + (1 + 1 + 31)


def test_size_costs_what_the_value_occupies_not_what_it_prints_as():
    level = ["a" * 10_000]
    for _ in range(6):
        level = [level] * 10_000  # prints as 10**28 characters
    started = time.monotonic()
    assert size(level) > MAX_VALUE
    assert time.monotonic() - started < 0.5


def test_size_refuses_a_value_that_contains_itself():
    loop = [1]
    loop.append(loop)
    with pytest.raises(LimitExceeded):
        size(loop)


@pytest.mark.parametrize(
    "source",
    [
        # the examples found: 44 minutes per event, and gigabytes of JSON
        "([['a' * 10000] * 10000] * 10000) | map('string') | map('length') | sum",
        "([['a' * 10000] * 10000] * 10000) | tojson | length",
        # the same shapes built from the event, which `bridge check` cannot see
        "([[object.name] * 10000] * 10000) | map('string') | map('length') | sum",
        "([[object.name] * 10000] * 10000) | tojson | length",
        "([[object.name] * 10000] * 10000) | string | length",
        "([[object.name] * 10000] * 10000) | first | string | length",
        "(([object.name] * 10000) ~ ([object.name] * 10000) ~ ([object.name] * 10000)) | length",
        "([object.name] * 10000) + ([object.name] * 10000) + ([object.name] * 10000)",
        "[[object.name] * 10000, [object.name] * 10000, [object.name] * 10000]",
        "([[object.name] * 10000] * 2) | join(',') | length",
        "([[object.name] * 10000] * 100) | map('string') | list | length",
        "([[object.name] * 10000] * 100) | map('string') | sort | length",
        "([[object.name] * 10000] * 100) | map('string') | sum",
        "upper([[object.name] * 10000] * 10000)",
        "([[object.name] * 10000] * 10000) | upper | length",
        "([[object.name] * 10000] * 10000) | replace('n', 'm') | length",
        "object.numbers[0] | round(-100000000)",
    ],
)
def test_expression_over_the_bounds_is_refused_fast(source):
    refused_fast(source)


def test_expression_within_the_bounds_still_works():
    assert run("([[object.name] * 100] * 100) | map('string') | map('length') | sum") == 100 * (100 * 104 + 2 - 2)
    assert run("(object.numbers | tojson | length) > 100000") is True
    assert run("object.name ~ '-' ~ 3") == NAME + "-3"
    assert run("[1, 2] + [3]") == [1, 2, 3]


def test_values_one_event_builds_together_are_bounded():
    # each value is within MAX_VALUE; together they are not
    source = "[" + ", ".join(["([object.name] * 10000) | string"] * 12) + "] | length"
    assert "for one event" in refused_fast(source)


def test_deadline_stops_a_long_evaluation_of_small_steps():
    source = "object.numbers | select('in', object.numbers) | list | length"  # 2 * 10**8 comparisons
    started = time.monotonic()
    with pytest.raises(LimitExceeded, match="CPU time"):
        run(source, seconds=0.05)
    assert time.monotonic() - started < 1.0


def test_deadline_counts_cpu_time_not_a_paused_process():
    with evaluation(0.05):
        time.sleep(0.1)  # the process did nothing: not over the bound
        tick()
        with pytest.raises(LimitExceeded):
            while True:
                tick()


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("([['a' * 10000] * 10000] * 10000) | map('string') | map('length') | sum",
         "builds about 1000100010000 characters and items"),
        ("'x' * 10 ** 9", "a repetition would make more than 10000 items"),
        ("2 ** 100", "an exponent is larger than 64"),
        ("'x' * 10000 ~ 'y' * 10000 ~ [['z' * 10000] * 10000]", "builds about"),
    ],
)
def test_over_bounds_finds_what_every_event_would_exceed(source, reason):
    [found] = bounds.over_bounds(parse(SandboxEnvironment(is_function), source))
    assert reason in found


@pytest.mark.parametrize("source", ["object.name * 10000", "'-' * 20", "[0] * 100", "10 ** 30 * 10 ** 30",
                                    "'a' ~ object.name ~ 'b'"])
def test_over_bounds_accepts_what_depends_on_the_event_or_fits(source):
    assert bounds.over_bounds(parse(SandboxEnvironment(is_function), source)) == []
