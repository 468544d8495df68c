"""One YAML file read safely, with the line of every key and list item, so problems can name their line.

Only `yaml.SafeLoader` is used: the node tree comes from `compose` (no object is constructed from it) and
the data from `safe_load`, so a mapping file can never build arbitrary Python objects. Composing is bounded
before anything walks the tree: aliases may reuse at most `MAX_ALIAS_NODES` nodes in all (a few lines of
nested aliases can otherwise stand for billions of nodes), never a block that contains them, and blocks nest at
most `MAX_DEPTH` deep.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[Any, ...]
MAX_ALIAS_NODES = 10_000  # nodes reached through aliases in one file; real mappings reuse a few small blocks
MAX_DEPTH = 100  # nesting of blocks; the reader and `_record` recurse once per level


class DocumentError(Exception):
    """The file cannot be read as YAML; `line` is where the reader gave up (1-based)."""

    def __init__(self, message: str, line: int = 1):
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Document:
    """A mapping file's data and the 1-based line of each path in it (("rules", 0, "account", "mrr"))."""

    path: Path
    data: Any
    lines: Mapping[Path_, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How problems name the file."""
        return str(self.path)

    def line(self, where: Path_) -> int:
        """The line of `where`, or of its nearest ancestor the file has."""
        for end in range(len(where), 0, -1):
            if where[:end] in self.lines:
                return self.lines[where[:end]]
        return 1


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader's composer, counting what aliases expand to and how deep blocks nest."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._alias_nodes = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            line = self.peek_event().start_mark.line + 1
            node = super().compose_node(parent, index)
            if node is not None:
                self._charge(node, line)
            return node
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise DocumentError(f"blocks nest more than {MAX_DEPTH} levels deep", line)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def _charge(self, node: yaml.Node, line: int) -> None:
        """Count the nodes an alias stands for; refuse it past the budget, or when it would make a cycle."""
        if isinstance(node, yaml.CollectionNode) and node.end_mark is None:
            raise DocumentError("an alias refers to a block that contains it", line)
        self._alias_nodes += _size(node, self._sizes)
        if self._alias_nodes > MAX_ALIAS_NODES:
            raise DocumentError(f"aliases expand to more than {MAX_ALIAS_NODES} nodes in all: reuse small blocks "
                                "only (an alias bomb is refused)", line)


def _size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many nodes `node` stands for once its aliases are expanded (remembered per node: linear time)."""
    if id(node) not in sizes:
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            children = node.value if isinstance(node, yaml.SequenceNode) else []
        sizes[id(node)] = 1 + sum(_size(child, sizes) for child in children)
    return sizes[id(node)]


def _compose(text: str) -> yaml.Node | None:
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[tuple[Any, yaml.Node, yaml.Node]]:
    """(key, the node giving its line, its value) for each entry of a mapping or item of a sequence."""
    if isinstance(node, yaml.MappingNode):
        return [(key.value if isinstance(key, yaml.ScalarNode) else None, key, value) for key, value in node.value]
    if isinstance(node, yaml.SequenceNode):
        return [(index, item, item) for index, item in enumerate(node.value)]
    return []


def _record(root: yaml.Node, lines: dict[Path_, int]) -> None:
    """The line of every path, in document order (a loop, not recursion: aliases can nest deeper than blocks)."""
    pending: list[tuple[Path_, yaml.Node]] = [((), root)]
    while pending:
        where, node = pending.pop()
        found = [((*where, key), marker, value) for key, marker, value in _children(node)]
        for path, marker, _ in found:
            lines.setdefault(path, marker.start_mark.line + 1)
        pending += [(path, value) for path, _, value in reversed(found)]


def read_document(path: Path) -> Document:
    """Read one YAML file; raise DocumentError naming the line when it is not YAML."""
    try:
        text = path.read_text(encoding="utf-8")
        node = _compose(text)  # bounded: only then may the data be built and the tree walked
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(f"cannot be read: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DocumentError(f"cannot be read as YAML: {exc}", mark.line + 1 if mark else 1) from None
    lines: dict[Path_, int] = {}
    if node is not None:
        _record(node, lines)
    return Document(path, data, lines)
