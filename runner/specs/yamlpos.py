"""Safe YAML loading that keeps where every value came from, so errors can name file, line and column."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Pos:
    """1-based line and column of a node."""

    line: int
    col: int
    block: bool = False
    """A `|` or `>` block scalar: its text starts on the next line."""


@dataclass
class YamlDoc:
    """One document of a multi-document YAML file, with positions of its values and keys."""

    data: Any
    start: Pos
    values: dict[Path_, Pos] = field(default_factory=dict)
    keys: dict[Path_, Pos] = field(default_factory=dict)
    duplicates: list[tuple[Path_, Pos, Pos]] = field(default_factory=list)
    """(path, position of the repeated key, position of the first one)."""

    def pos(self, path: Path_) -> Pos:
        """Position of the value at `path`, or of its nearest ancestor that has one."""
        for n in range(len(path), -1, -1):
            p = self.values.get(path[:n])
            if p is not None:
                return p
        return self.start

    def key_pos(self, path: Path_) -> Pos:
        """Position of the key that leads to `path` (for 'unknown key' errors), else the value's."""
        return self.keys.get(path) or self.pos(path)


class YamlSyntaxError(Exception):
    """Invalid YAML, with the position the parser reported."""

    def __init__(self, message: str, pos: Pos) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


def _mark(node: yaml.Node) -> Pos:
    style = getattr(node, "style", None)
    return Pos(node.start_mark.line + 1, node.start_mark.column + 1, block=style in ("|", ">"))


def _walk(node: yaml.Node, path: Path_, doc: YamlDoc) -> None:
    doc.values[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, Pos] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node)
            kpos = _mark(key_node)
            if key in seen:
                doc.duplicates.append(((*path, key), kpos, seen[key]))
            seen[key] = kpos
            doc.keys[(*path, key)] = kpos
            _walk(value_node, (*path, key), doc)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), doc)


def load_yaml_documents(text: str) -> list[YamlDoc]:
    """Parse every document in `text` with the safe loader; raise YamlSyntaxError on bad YAML."""
    loader = yaml.SafeLoader(text)
    docs: list[YamlDoc] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            doc = YamlDoc(data=data, start=_mark(node))
            _walk(node, (), doc)
            docs.append(doc)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Pos(mark.line + 1, mark.column + 1) if mark else Pos(1, 1)
        problem = exc.problem or "invalid YAML"
        context = ""
        if exc.context:
            cm = exc.context_mark
            started = f" that starts at line {cm.line + 1}" if cm is not None and cm is not mark else ""
            context = f" ({exc.context}{started})"
        raise YamlSyntaxError(f"YAML syntax error: {problem}{context}", pos) from None
    except yaml.YAMLError as exc:  # pragma: no cover - PyYAML raises marked errors for text input
        raise YamlSyntaxError(f"YAML syntax error: {exc}", Pos(1, 1)) from None
    finally:
        loader.dispose()
    return docs
