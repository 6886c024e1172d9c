"""Version check and migrations of result documents: older versions are upgraded step by step on read; newer,
unknown or unversioned ones are refused with a message naming the file and the fix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runner.documents.results import RESULT_VERSION
from runner.errors import DocumentError

Raw = dict[str, Any]


def _v1_item(raw: Raw) -> Raw:
    # Version 2 added the per-sample fields of result items; version 1 did not keep them, so they are empty.
    # Baseline items (no `output` key) have none.
    if "output" not in raw:
        return raw
    return {"input_ref": None, "references": {}, "reasons": {}, "latency_s": None, "tokens": None, "capped": {}} | raw


def _v2_header(raw: Raw) -> Raw:
    # Version 3 counts failed cells (a call that failed after its retries is never scored); version 2 scored them
    # as failures, so its documents have none. Baselines have no such counts.
    if raw.get("kind") != "EvalResult":
        return raw
    return {"failed_cells": 0, "failed_items": 0} | raw


def _v2_item(raw: Raw) -> Raw:
    # Version 3 added each result item's `status`; every item of a version 2 document was scored.
    if "output" not in raw:
        return raw
    return {"status": "ok"} | raw


MIGRATIONS: dict[int, tuple[Callable[[Raw], Raw], Callable[[Raw], Raw]]] = {
    1: (dict, _v1_item),
    2: (_v2_header, _v2_item),
}
"""Version n -> (header step, item step), each producing version n + 1. Version 1 is the oldest ever written."""


def check_version(raw: Raw, source: str) -> int:
    """The version of the header `raw`, when this Flywheel can read it."""
    version = raw.get("version")
    if type(version) is not int:
        raise DocumentError(
            f"{source}:1: not a Flywheel result document (no integer `version`); "
            "re-create it with this Flywheel (flywheel run EVAL, or flywheel baseline update for baselines)"
        )
    if version > RESULT_VERSION:
        raise DocumentError(
            f"{source}:1: written by a newer Flywheel (document version {version}; this one reads up to version "
            f"{RESULT_VERSION}); upgrade: pip install -U flywheel-evals"
        )
    if version < 1:
        raise DocumentError(f"{source}:1: unknown document version {version}; re-create it with this Flywheel")
    return version


def migrate_header(raw: Raw, version: int) -> Raw:
    """A header written at `version`, upgraded to RESULT_VERSION."""
    for step in range(version, RESULT_VERSION):
        raw = MIGRATIONS[step][0](raw)
    return raw | {"version": RESULT_VERSION}


def migrate_item(raw: Raw, version: int) -> Raw:
    """An item of a document written at `version`, upgraded to RESULT_VERSION."""
    for step in range(version, RESULT_VERSION):
        raw = MIGRATIONS[step][1](raw)
    return raw
