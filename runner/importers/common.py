"""What every importer shares: spec documents as YAML, JSONL items with stable ids, and writing the files
without ever overwriting a different one."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from runner.errors import UsageError
from runner.fsutil import atomic_write_text
from runner.specs.common import API_VERSION


@dataclass(frozen=True)
class Imported:
    """An importer's result: files (relative path -> content) and what could not be carried over."""

    files: dict[str, str]
    notes: list[str] = field(default_factory=list)
    evals: list[str] = field(default_factory=list)
    """Names of the Eval specs written, for the summary."""


def name_of(text: str, fallback: str = "imported") -> str:
    """A spec name (lowercase letters, digits, `.`, `_`, `-`; at most 64 characters) made from `text`."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")[:64].strip("-._")
    return slug or fallback


def document(kind: str, name: str, spec: Mapping[str, Any], description: str | None = None) -> dict[str, Any]:
    """One spec document."""
    metadata: dict[str, Any] = {"name": name}
    if description:
        metadata["description"] = description
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": dict(spec)}


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so imported prompts stay readable."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value and not any(c in value for c in "\r\t") and value == value.rstrip(" "):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def spec_yaml(docs: Sequence[Mapping[str, Any]], header: str) -> str:
    """Documents as one multi-document YAML file, with `header` as a leading comment."""
    comment = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
    body = "---\n".join(
        yaml.dump(dict(d), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000) for d in docs
    )
    return comment + body


def jsonl(rows: Iterable[Mapping[str, Any]]) -> str:
    """Rows as JSONL, one compact object per line, keys in their given order."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def stable_id(value: Any) -> str:
    """A short id derived from `value`'s canonical JSON: the same input gets the same id on every import."""
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class WithIds:
    """Rows with ids added, and a note per dropped duplicate."""

    rows: list[dict[str, Any]]
    notes: list[str]


def add_ids(rows: Sequence[tuple[int, dict[str, Any]]], key: Any, source: str, unit: str = "line") -> WithIds:
    """Give each (line, row) the id `stable_id(key(row))` (a field already named `id` becomes `source_id`);
    drop rows whose key was seen before, noting each (an exact repeat, or the same input with a different
    expected answer)."""
    seen: dict[str, tuple[int, dict[str, Any]]] = {}
    kept: list[dict[str, Any]] = []
    notes = []
    for line, row in rows:
        item_id = stable_id(key(row))
        if item_id in seen:
            first_line, first = seen[item_id]
            kind = "duplicate" if first == row else "same input as"
            detail = "" if first == row else " with a different expected answer; kept the first"
            where = f"{source}:{line}" if unit == "line" else f"{source} {unit} {line}"
            notes.append(f"{where}: {kind} {unit} {first_line}{detail}; dropped")
            continue
        seen[item_id] = (line, row)
        kept.append({"id": item_id, **{("source_id" if k == "id" else k): v for k, v in row.items()}})
    return WithIds(kept, notes)


Status = Literal["created", "unchanged"]


def write_files(out: Path, files: Mapping[str, str]) -> list[tuple[str, Status]]:
    """Write `files` under `out`; refuse, writing nothing, when one exists with other content."""
    conflicts = []
    statuses: list[tuple[str, Status]] = []
    for rel, content in files.items():
        path = out / rel
        if path.exists():
            same = path.is_file() and path.read_text(encoding="utf-8", errors="replace") == content
            if not same:
                conflicts.append(str(path))
            statuses.append((rel, "unchanged"))
        else:
            statuses.append((rel, "created"))
    if conflicts:
        raise UsageError(
            f"the import would overwrite {', '.join(conflicts)}; nothing was written. Move "
            + ("it" if len(conflicts) == 1 else "them")
            + " away or import into another folder (--out DIR)"
        )
    for rel, status in statuses:
        if status == "created":
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, files[rel])
    return statuses
