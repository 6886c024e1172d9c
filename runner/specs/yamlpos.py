"""Safe YAML loading that keeps where every value came from, so errors can name file, line and column.

Spec files come from pull requests, so loading is bounded before anything is built: nesting deeper than
MAX_DEPTH (checked on the event stream, which PyYAML parses without recursion), aliases that expand to more than
MAX_NODES values (a billion-laughs bomb: PyYAML shares aliased objects, but everything that walks the data pays
the expanded size), recursive aliases and integers longer than MAX_INT_DIGITS are located errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from runner.specs.yaml12 import CoreLoader

Path_ = tuple[str | int, ...]
MAX_DEPTH = 64
"""Nesting levels (mappings and sequences) a document may have."""
MAX_NODES = 100_000
"""Values a document may hold once every alias is expanded."""
MAX_INT_DIGITS = 100
INT_TAG = "tag:yaml.org,2002:int"


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


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH before the (recursive) composer sees it."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlSyntaxError(
                    f"YAML nested more than {MAX_DEPTH} levels deep; flatten it", _pos(event.start_mark)
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _check_size(node: yaml.Node, memo: dict[int, int], active: set[int]) -> int:
    """Values under `node` once aliases are expanded (shared nodes counted once per use); refuse a bomb, a
    recursive alias or a huge integer at its position."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise YamlSyntaxError("recursive alias: this anchored value contains an alias to itself", _mark(node))
    if isinstance(node, yaml.ScalarNode):
        if node.tag == INT_TAG and len(node.value) > MAX_INT_DIGITS:
            raise YamlSyntaxError(f"integer with {len(node.value)} digits; the limit is {MAX_INT_DIGITS}", _mark(node))
        return 1
    active.add(key)
    children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else node.value
    size = 1
    for child in children:
        size += _check_size(child, memo, active)
        if size > MAX_NODES:
            raise YamlSyntaxError(
                f"YAML expands to more than {MAX_NODES} values here (each alias repeats what its anchor holds); "
                "use fewer aliases",
                _mark(node),
            )
    active.discard(key)
    memo[key] = size
    return size


def _pos(mark: Any) -> Pos:
    return Pos(mark.line + 1, mark.column + 1) if mark is not None else Pos(1, 1)


def load_yaml_documents(text: str) -> list[YamlDoc]:
    """Parse every document in `text` with the safe loader; raise YamlSyntaxError on bad YAML or on YAML
    that breaks a limit."""
    docs: list[YamlDoc] = []
    try:
        # YAML 1.2 booleans and numbers, as ruamel writes them; the reader refuses control characters here
        loader = CoreLoader(text)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise YamlSyntaxError(f"YAML syntax error: {exc.reason}", Pos(line, col)) from None
    try:
        _check_depth(text)
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            _check_size(node, {}, set())
            try:
                data = loader.construct_document(node)
            except (ValueError, OverflowError, TypeError) as exc:  # e.g. a timestamp with month 13
                raise YamlSyntaxError(f"YAML value cannot be read: {exc}", _mark(node)) from None
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
