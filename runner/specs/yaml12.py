"""YAML 1.2 core-schema reading for PyYAML, so specs mean what ruamel (which writes them) and editors mean.

PyYAML resolves plain scalars by YAML 1.1: `yes`/`no`/`on`/`off` become booleans, `0755` octal, `1:30` the
number 90, and `1e-3` stays a string. Under the 1.2 core schema only `true`/`false` are booleans, numbers are
decimal unless `0o`/`0x`, and `1e-3` is a float. `yaml11_changes` finds the scalars of a file whose meaning
differs between the two, so `flywheel validate` can point at them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_STR = "tag:yaml.org,2002:str"

# YAML 1.2.2, section 10.3.2 (the core schema's tag resolution).
_CORE = (
    (_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), "tTfF"),
    (_INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), "-+0123456789"),
    (
        _FLOAT,
        re.compile(
            r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        "-+0123456789.",
    ),
)


class CoreLoader(yaml.SafeLoader):
    """PyYAML's safe loader with the YAML 1.2 core schema's booleans, integers and floats."""

    yaml_implicit_resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _INT, _FLOAT)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = str(self.construct_scalar(node))
        if text.startswith(("0o", "0x")):
            return int(text, 0)
        return int(text, 10)  # 1.2: a leading zero is not octal


for _tag, _rx, _first in _CORE:
    CoreLoader.add_implicit_resolver(_tag, _rx, list(_first))
CoreLoader.add_constructor(_INT, CoreLoader.construct_yaml_int)


@dataclass(frozen=True)
class Yaml11Change:
    """A plain scalar that YAML 1.1 (PyYAML's default) read differently: where, the text, both readings."""

    line: int
    col: int
    text: str
    now: Any
    before: Any

    def message(self) -> str:
        head = f"'{self.text}' is {_show(self.now)} (Flywheel reads YAML 1.2), not {_show(self.before)} of YAML 1.1"
        if isinstance(self.before, bool):
            word = "true" if self.before else "false"
            return f"{head}; write {word} if you meant the boolean, or quote it to say you meant the text"
        if isinstance(self.now, str):
            return f"{head}; write {self.before!r} if you meant the number, or quote it to say you meant the text"
        if isinstance(self.now, int) and isinstance(self.before, int):
            return f"{head}; write {oct(self.before)} if you meant octal"
        return f"{head}; quote it if you meant the text"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if isinstance(value, str):
        return f"the string '{value}'"
    return f"the {type(value).__name__} {value!r}"


def _reading(loader: yaml.SafeLoader, text: str) -> Any:
    """The value a plain scalar `text` gets under `loader`'s implicit resolvers."""
    tag = loader.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    node = yaml.ScalarNode(tag, text)
    return loader.construct_object(node, deep=True)


def yaml11_changes(text: str) -> list[Yaml11Change]:
    """Every plain, untagged scalar of `text` whose value differs between YAML 1.1 and the 1.2 core schema.
    Raises yaml.YAMLError on invalid YAML."""
    changes = []
    core, old = CoreLoader(""), yaml.SafeLoader("")
    try:
        for event in yaml.parse(text, Loader=CoreLoader):
            if not isinstance(event, yaml.ScalarEvent) or event.style is not None or event.tag not in (None, "!"):
                continue
            try:
                now, before = _reading(core, event.value), _reading(old, event.value)
            except (yaml.YAMLError, ValueError):
                continue
            if (type(now), repr(now)) != (type(before), repr(before)) and (mark := event.start_mark) is not None:
                changes.append(Yaml11Change(mark.line + 1, mark.column + 1, event.value, now, before))
    finally:
        core.dispose()
        old.dispose()
    return changes
