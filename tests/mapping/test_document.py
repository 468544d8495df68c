"""Reading one mapping file: lines of every path, and the bounds that keep a hostile file from exhausting memory."""

import time

import pytest

from bridge.mapping.document import DocumentError, read_document

ALIAS_BUDGET = 10_000  # nodes aliases may stand for in one file


def laughs(levels: int, width: int = 9) -> str:
    """A "billion laughs" document: each level is a list of `width` aliases to the level before."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def read(tmp_path, text):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return read_document(path)


def refusal(tmp_path, text):
    started = time.monotonic()
    with pytest.raises(DocumentError) as caught:
        read(tmp_path, text)
    assert time.monotonic() - started < 2.0
    return caught.value


def test_read_document_records_the_line_of_every_path(tmp_path):
    document = read(tmp_path, "rules:\n  - name: a\n    account:\n      mrr: x\n  - name: b\n")
    assert document.line(("rules", 0, "account", "mrr")) == 4
    assert document.line(("rules", 1, "name")) == 5
    assert document.line(("rules", 1, "nothing", "here")) == 5


def test_read_document_allows_aliases_that_reuse_a_small_block(tmp_path):
    text = "a: &props {plan: x, mrr: y}\nb: *props\nc: {<<: *props, seats: z}\n"
    document = read(tmp_path, text)
    assert document.data["b"] == {"plan": "x", "mrr": "y"}
    assert document.data["c"] == {"plan": "x", "mrr": "y", "seats": "z"}
    assert document.line(("b", "plan")) == 1


@pytest.mark.parametrize("levels", [5, 9, 12])
def test_read_document_refuses_an_alias_bomb_fast_with_its_line(tmp_path, levels):
    error = refusal(tmp_path, laughs(levels))
    assert "aliases expand to more than" in str(error)
    assert error.line == 5  # the first level whose aliases go over the budget


def test_read_document_counts_aliases_in_all_not_per_alias(tmp_path):
    block = "b: &b [" + ", ".join(["x"] * 99) + "]\n"  # 100 nodes, reused more times than the budget allows
    uses = ALIAS_BUDGET // 100 + 1
    error = refusal(tmp_path, block + "".join(f"u{n}: *b\n" for n in range(uses)))
    assert error.line == uses + 1


def test_read_document_refuses_merge_keys_that_multiply(tmp_path):
    lines = ["m0: &m0 {k0: 1, k1: 1, k2: 1, k3: 1}"]
    for n in range(1, 9):
        merged = ", ".join([f"*m{n - 1}"] * 9)
        lines.append(f"m{n}: &m{n} {{<<: [{merged}]}}")
    refusal(tmp_path, "\n".join(lines) + "\n")


@pytest.mark.parametrize("text", ["a: &x [1, *x]\n", "a: &x {k: *x}\n", "a: &x [[[*x]]]\n"])
def test_read_document_refuses_an_alias_to_a_block_that_contains_it(tmp_path, text):
    error = refusal(tmp_path, text)
    assert "contains it" in str(error) and error.line == 1


@pytest.mark.parametrize("text", ["a: " + "[" * 3000 + "]" * 3000, "a: " + "{a: " * 500 + "x" + "}" * 500,
                                  "a:\n" + "- " * 300 + "x\n"])
def test_read_document_refuses_blocks_nested_too_deep(tmp_path, text):
    error = refusal(tmp_path, text)
    assert "nest more than" in str(error)
