"""JSON Schemas for editors and tools, generated from the pydantic models (the source of truth)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from runner.documents.ledgers import HistoryEntry, LineageEntry
from runner.documents.plan import SavedPlan
from runner.documents.results import BaselineFile, ResultFile
from runner.documents.state import StateFile
from runner.fsutil import atomic_write_text
from runner.specs.kinds import KINDS

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
COMBINED = "flywheel.schema.json"


def file_name(kind: str) -> str:
    """`Eval` -> `eval.schema.json`."""
    return f"{kind.lower()}.schema.json"


def kind_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of one kind's documents."""
    schema = KINDS[kind].model_json_schema(by_alias=True)
    return {"$schema": SCHEMA_DIALECT, "$id": file_name(kind), **schema}


def combined_schema() -> dict[str, Any]:
    """One schema accepting a document of any kind (for a yaml-language-server modeline)."""
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": COMBINED,
        "title": "Flywheel spec document",
        "description": "Any Flywheel spec document (apiVersion flywheel/v1); `kind` selects the shape.",
        "oneOf": [{"$ref": file_name(k)} for k in KINDS],
    }


DOCUMENTS: dict[str, type[BaseModel]] = {
    "result.schema.json": ResultFile,
    "baseline.schema.json": BaselineFile,
    "state.schema.json": StateFile,
    "plan.schema.json": SavedPlan,
    "history-line.schema.json": HistoryEntry,
    "lineage-line.schema.json": LineageEntry,
}
"""Documents Flywheel writes (not specs): results, baselines, the state file, saved plans, ledger lines."""


def document_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of a document Flywheel writes."""
    schema = DOCUMENTS[name].model_json_schema(by_alias=True)
    return {"$schema": SCHEMA_DIALECT, "$id": name, **schema}


def render_all() -> dict[str, str]:
    """File name -> canonical text for every schema file."""
    out = {file_name(k): kind_schema(k) for k in KINDS}
    out[COMBINED] = combined_schema()
    out |= {name: document_schema(name) for name in DOCUMENTS}
    return {name: json.dumps(schema, indent=2, ensure_ascii=False) + "\n" for name, schema in out.items()}


def drift(folder: Path) -> list[str]:
    """Names of schema files in `folder` that are missing or differ from the generated ones."""
    return [
        name
        for name, text in render_all().items()
        if not (folder / name).is_file() or (folder / name).read_text(encoding="utf-8") != text
    ]


def write_all(folder: Path) -> list[str]:
    """Write every schema file atomically; return the names written."""
    folder.mkdir(parents=True, exist_ok=True)
    rendered = render_all()
    for name, text in rendered.items():
        atomic_write_text(folder / name, text)
    return sorted(rendered)
