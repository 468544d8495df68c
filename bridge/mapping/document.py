"""One YAML file read safely, with the line of every key and list item, so problems can name their line.

Only `yaml.SafeLoader` is used: the node tree comes from `compose` (no object is constructed from it) and
the data from `safe_load`, so a mapping file can never build arbitrary Python objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[Any, ...]


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


def _record(node: yaml.Node, where: Path_, lines: dict[Path_, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            lines.setdefault((*where, key), key_node.start_mark.line + 1)
            _record(value_node, (*where, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.setdefault((*where, index), item.start_mark.line + 1)
            _record(item, (*where, index), lines)


def read_document(path: Path) -> Document:
    """Read one YAML file; raise DocumentError naming the line when it is not YAML."""
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(f"cannot be read: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DocumentError(f"cannot be read as YAML: {exc}", mark.line + 1 if mark else 1) from None
    lines: dict[Path_, int] = {}
    if node is not None:
        _record(node, (), lines)
    return Document(path, data, lines)
