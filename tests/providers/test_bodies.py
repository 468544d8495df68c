import pytest

from bridge.errors import PayloadError
from bridge.providers.bodies import MAX_DEPTH, depth_over, load_object, read_json


def _nested(depth: int) -> bytes:
    return b'{"a": ' * (depth - 1) + b"{}" + b"}" * (depth - 1)


def test_read_json_keeps_any_json_value() -> None:
    assert read_json(b'[1, 2.5, "x", null]') == [1, 2.5, "x", None]
    assert read_json(b'{"n": 12345678901234567890}') == {"n": 12345678901234567890}


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "not JSON"),
    (b"\xff\xfe", "not JSON"),
    (b'{"n": NaN}', "not JSON"),
    (b'{"n": Infinity}', "not JSON"),
    (b'{"n": -Infinity}', "not JSON"),
    (b'{"n": 1e400}', "not JSON"),
    (_nested(MAX_DEPTH + 1), f"deeper than {MAX_DEPTH}"),
    (b"[" * 100_000 + b"]" * 100_000, f"deeper than {MAX_DEPTH}"),
])
def test_read_json_refuses_what_is_not_plain_json(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message) as refused:
        read_json(body)
    assert str(refused.value).startswith("body ")  # says what is wrong, never quotes the body


def test_read_json_accepts_the_deepest_allowed_body() -> None:
    assert isinstance(read_json(_nested(MAX_DEPTH)), dict)


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"3", b"null"])
def test_load_object_refuses_json_that_is_not_an_object(body: bytes) -> None:
    with pytest.raises(PayloadError, match="not a JSON object"):
        load_object(body)


def test_load_object_returns_the_object() -> None:
    assert load_object(b'{"type": "a", "data": {"x": [1]}}') == {"type": "a", "data": {"x": [1]}}


def test_depth_over_counts_arrays_and_objects() -> None:
    assert not depth_over({"a": [1]}, 2)
    assert depth_over({"a": [[1]]}, 2)
    assert not depth_over(5, 0)


def test_a_wide_shallow_body_is_walked_and_accepted() -> None:
    wide = b'{"lines": [' + b",".join([b'{"a": [1]}'] * (MAX_DEPTH * 2)) + b'], "text": "' + b"[{" * MAX_DEPTH + b'"}'
    assert read_json(wide)["lines"][0] == {"a": [1]}


def test_a_deep_body_among_many_brackets_is_refused() -> None:
    deep = b'{"wide": [' + b",".join([b"{}"] * MAX_DEPTH) + b'], "deep": ' + _nested(MAX_DEPTH) + b"}"
    with pytest.raises(PayloadError, match=f"deeper than {MAX_DEPTH}"):
        read_json(deep)
