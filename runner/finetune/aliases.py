"""Edits to Model specs in git: register a local adapter and move an alias, keeping comments and layout.

The spec file is edited in a round trip with ruamel.yaml (comments, order and quoting survive), written
atomically, and re-validated by the caller's next `load_specs`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from runner.errors import FinetuneError
from runner.fsutil import atomic_copy, atomic_write_text
from runner.specs.loader import SpecSet


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 120
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


_DOC_START = re.compile(r"^---(?:[ \t]|$)")


def _split_documents(text: str) -> list[tuple[str, str]]:
    """Split a YAML stream into (separator line, body) pairs, verbatim, so documents that are not
    edited are written back byte for byte (a round trip re-wraps long plain scalars)."""
    docs: list[tuple[str, list[str]]] = [("", [])]
    for line in text.splitlines(keepends=True):
        if _DOC_START.match(line):
            docs.append((line, []))
        else:
            docs[-1][1].append(line)
    return [(sep, "".join(body)) for sep, body in docs if sep or "".join(body).strip()]


def _edit_model(path: Path, name: str, edit: Callable[[CommentedMap], bool]) -> None:
    """Apply `edit` to the `spec` of Model `name` in `path`; write the file only when `edit` says it changed."""
    yaml = _yaml()
    parts = _split_documents(path.read_text(encoding="utf-8"))
    loaded = [yaml.load(body) for _, body in parts]
    index = next(
        (
            i
            for i, doc in enumerate(loaded)
            if isinstance(doc, CommentedMap) and doc.get("kind") == "Model" and doc["metadata"]["name"] == name
        ),
        None,
    )
    if index is None:
        raise FinetuneError(f"{path}: no Model '{name}' to update")
    if not edit(loaded[index]["spec"]):
        return
    out = io.StringIO()
    yaml.dump(loaded[index], out)
    parts[index] = (parts[index][0], out.getvalue())
    atomic_write_text(path, "".join(sep + body for sep, body in parts))


def set_alias(specs: SpecSet, model: str, alias: str, model_id: str) -> Path:
    """Point `model@alias` at `model_id` in its spec file; return the file."""
    path = specs.models[model].file

    def edit(spec: CommentedMap) -> bool:
        if "aliases" not in spec or spec["aliases"] is None:
            spec["aliases"] = CommentedMap()
        spec["aliases"][alias] = model_id
        return True

    _edit_model(path, model, edit)
    return path


def register_adapter(specs: SpecSet, model: str, model_id: str, adapter: Path) -> Path:
    """Copy a local LoRA adapter beside the Model spec (`adapters/<model_id>.gguf`) and list it under
    `adapters`, so `model_id` resolves to base weights + adapter; return the copied file."""
    spec_file = specs.models[model].file
    dest = spec_file.parent / "adapters" / f"{model_id}.gguf"
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_copy(adapter, dest)

    def edit(spec: CommentedMap) -> bool:
        if "adapters" not in spec or spec["adapters"] is None:
            spec["adapters"] = CommentedMap()
        spec["adapters"][model_id] = f"adapters/{model_id}.gguf"
        return True

    _edit_model(spec_file, model, edit)
    return dest


def prune_adapters(specs: SpecSet, model: str) -> list[str]:
    """Drop the local adapters of Model `model` that neither an alias nor `model` itself names any more (a
    champion that was replaced, a challenger that was superseded), deleting their files under `adapters/`, so
    the working tree holds at most the champion's and the challenger's; return the model ids dropped. Older
    adapters stay in git history with the commits that used them."""
    spec_file = specs.models[model].file
    folder = (spec_file.parent / "adapters").resolve()
    dropped: list[str] = []
    files: list[Path] = []

    def edit(spec: CommentedMap) -> bool:
        adapters = spec.get("adapters") or {}
        keep = set((spec.get("aliases") or {}).values()) | {spec.get("model")}
        for model_id in [m for m in adapters if m not in keep]:
            path = (spec_file.parent / str(adapters[model_id])).resolve()
            if path.parent == folder:
                files.append(path)
            del adapters[model_id]
            dropped.append(model_id)
        if "adapters" in spec and not adapters:
            del spec["adapters"]
        return bool(dropped)

    _edit_model(spec_file, model, edit)
    for path in files:
        path.unlink(missing_ok=True)
    return dropped
