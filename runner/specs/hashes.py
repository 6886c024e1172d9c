"""Content hashes of spec documents, as the cache, the plan and result provenance use them."""

from __future__ import annotations

from runner.hashing import content_hash
from runner.specs.grader import PythonGrader
from runner.specs.loader import SpecSet


def grader_hash(specs: SpecSet, name: str) -> str:
    """Hash of a grader spec, including the source file of a python grader (editing it re-grades)."""
    located = specs.graders[name]
    spec = located.doc.spec
    extra = ""
    if isinstance(spec, PythonGrader) and spec.file is not None:
        extra = (located.file.parent / spec.file).read_text(encoding="utf-8")
    return content_hash({"spec": spec.model_dump(mode="json", by_alias=True), "file": extra})
