"""The result document of one (eval, model) run: canonical JSON with provenance, one line per item, written
atomically under the state folder."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from runner.engine.metrics import MetricSummary
from runner.hashing import canonical_json

RESULT_VERSION = 1


def metric_json(m: MetricSummary) -> dict[str, Any]:
    return {
        "aggregate": m.aggregate,
        "value": round(m.value, 6),
        "n": m.n,
        "ci_low": round(m.ci_low, 6),
        "ci_high": round(m.ci_high, 6),
        "ci_method": m.method,
        "errors": m.errors,
        "floor_ok": m.floor_ok,
    }


def write_result(path: Path, header: Mapping[str, Any], items: Iterable[Mapping[str, Any]]) -> None:
    """Write `header` (keys sorted, `items` last) with one canonical JSON line per item, atomically.
    Items are streamed, so memory stays flat however many there are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    head = canonical_json({**header, "version": RESULT_VERSION})
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(head[:-1] + ',"items":[')
            first = True
            for item in items:
                fh.write("\n" if first else ",\n")
                fh.write(canonical_json(item))
                first = False
            fh.write("\n]}\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_result(path: Path) -> dict[str, Any]:
    """Load a result document."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a result document")
    return data
