"""What a result keeps of each sample besides its scores: the rendered input (stored once, by content hash),
the item fields the graders used, capped text fields, and nothing secret."""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from runner.fsutil import atomic_write_text
from runner.hashing import canonical_json, content_hash
from runner.specs.grader import PythonGrader
from runner.specs.loader import SpecSet
from runner.subproc import SECRET_SUFFIXES

MAX_OUTPUT = 8000
"""Characters of model output kept per item."""
MAX_REFERENCE = 2000
"""Characters of each reference value (as JSON) kept per item."""
MAX_REASON = 2000
"""Characters of a grader's reason kept per item (judge reasoning is already cut there)."""
INPUTS = "inputs"
"""Folder under the state folder holding rendered inputs, one file per content hash."""

_ITEM_FIELD = re.compile(r"""\bitem(?:\.([A-Za-z_]\w*)|\[\s*["']([^"']+)["']\s*\]|\.get\(\s*["']([^"']+)["'])""")
_KEY_SHAPES = re.compile(r"\b(?:sk|rk|pk)-[A-Za-z0-9_-]{16,}|\bgh[pousr]_[A-Za-z0-9]{20,}|\bBearer\s+[\w.~+/-]{16,}")
REDACTED = "[redacted]"


def store_input(state_dir: Path, messages: Sequence[Mapping[str, Any]]) -> str:
    """Keep the rendered `messages` once under `state_dir/inputs/`; return their content hash (the reference)."""
    ref = content_hash(list(messages))
    path = input_path(state_dir, ref)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, redact(canonical_json(list(messages))) + "\n")
    return ref


def input_path(state_dir: Path, ref: str) -> Path:
    """Where the rendered input `ref` is kept."""
    return state_dir / INPUTS / ref[:2] / f"{ref}.json"


def load_input(state_dir: Path, ref: str) -> list[dict[str, Any]] | None:
    """The rendered messages of `ref`, or None when they are not kept here (another machine's result)."""
    if not re.fullmatch(r"[0-9a-f]{64}", ref):
        return None
    try:
        data = json.loads(input_path(state_dir, ref).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else None


def reference_fields(specs: SpecSet, graders: Iterable[str]) -> tuple[str, ...]:
    """Item fields the graders read: `item.x`, `item["x"]` and `item.get("x")` in their templates and sources."""
    found: dict[str, None] = {}
    for name in graders:
        located = specs.graders[name]
        spec = located.doc.spec
        text = json.dumps(spec.model_dump(mode="json", by_alias=True))
        if isinstance(spec, PythonGrader) and spec.file is not None:
            with contextlib.suppress(OSError):
                text += (located.file.parent / spec.file).read_text(encoding="utf-8")
        for m in _ITEM_FIELD.finditer(text):
            found[next(g for g in m.groups() if g)] = None
    return tuple(found)


def references(item: Mapping[str, Any], fields: Sequence[str]) -> tuple[dict[str, Any], dict[str, int]]:
    """The item's values of `fields` (each capped) and the original length of any value that was capped."""
    out: dict[str, Any] = {}
    capped: dict[str, int] = {}
    for name in fields:
        if name not in item:
            continue
        value = redact_value(item[name])
        text = value if isinstance(value, str) else canonical_json(value)
        if len(text) > MAX_REFERENCE:
            capped[f"references.{name}"] = len(text)
            value = text[:MAX_REFERENCE]
        out[name] = value
    return out, capped


def cap(text: str | None, limit: int, name: str, capped: dict[str, int]) -> str | None:
    """`text` with secrets redacted, then cut to `limit` characters (recording its length in `capped` when cut;
    redacting first, so a cut cannot leave half a key behind)."""
    if text is None:
        return None
    text = redact(text)
    if len(text) > limit:
        capped[name] = len(text)
        text = text[:limit]
    return text


def redact(text: str) -> str:
    """`text` without the values of secret-looking environment variables or strings shaped like API keys."""
    for key, value in os.environ.items():
        if key.endswith(SECRET_SUFFIXES) and len(value) >= 8 and value in text:
            text = text.replace(value, REDACTED)
    return _KEY_SHAPES.sub(REDACTED, text)


def redact_value(value: Any) -> Any:
    """`redact` applied to every string inside a JSON value."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    return value
