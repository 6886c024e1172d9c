"""Writing baselines from results, and reading them as they are on a git ref.

A baseline is `baselines/<eval>/<model>.json`: canonical JSON with the hashes it was computed under,
provenance, metric summaries and one line per item holding only its scores (no model output, no secrets).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runner.baselines.ledger import FOLDER, append_history, history_path
from runner.documents.io import (
    BaselineDocument,
    ScoredDocument,
    iter_items,
    parse_baseline,
    read_header,
    write_document,
)
from runner.documents.results import BaselineHeader, BaselineItem, ResultHeader
from runner.git import exists_at, show

"""`baselines/history.jsonl`: one line per (eval, model, commit) baseline written on main, oldest first. It feeds
trend views and the `metric_below` retraining trigger (N consecutive runs under a floor)."""


def baseline_path(root: Path, eval_name: str, model_slug: str) -> Path:
    return root / FOLDER / eval_name / f"{model_slug}.json"


def write_baseline(path: Path, result_file: Path) -> ResultHeader:
    """Write the baseline of the result document at `result_file` (items streamed); return its header."""
    result = read_header(result_file)
    header = BaselineHeader.model_validate(
        result.model_dump(include=set(BaselineHeader.model_fields) - {"kind", "version"})
    )
    write_document(path, header, (BaselineItem(id=i.id, scores=i.scores) for i in iter_items(result_file)))
    return result


def history_entry(result: ResultHeader, slug: str) -> dict[str, Any]:
    """The trend line of one result: when (commit), what (eval, model), and each metric's value and n."""
    return {
        "commit": result.provenance.git.commit,
        "created": result.provenance.created,
        "eval": result.eval,
        "model": slug,
        "model_id": result.model.id,
        "metrics": {
            name: {"value": m.value, "n": m.n, "floor_ok": m.floor_ok} for name, m in sorted(result.metrics.items())
        },
        "run_id": result.run_id,
    }


def update_from_results(root: Path, results_dir: Path, evals: set[str] | None = None) -> list[Path]:
    """Write a baseline for every latest result (optionally only of `evals`) and append the trend history;
    return the files written."""
    written = []
    entries = []
    for result_file in sorted(results_dir.glob("*/*.json")):
        eval_name = result_file.parent.name
        if evals is not None and eval_name not in evals:
            continue
        path = baseline_path(root, eval_name, result_file.stem)
        result = write_baseline(path, result_file)
        written.append(path)
        entries.append(history_entry(result, result_file.stem))
    if entries and append_history(root, entries):
        written.append(history_path(root))
    return written


def read_at(root: Path, ref: str, rel: str) -> BaselineDocument | None:
    """The baseline `rel` as it is on `ref`, or None when it does not exist there."""
    if not exists_at(root, ref, rel):
        return None
    return parse_baseline(show(root, ref, rel), f"{rel} on {ref}")


def item_scores(doc: ScoredDocument, metric: str) -> Iterator[tuple[str, float, float]]:
    """(item id, score, pass value) of `metric` for each item of a baseline or result document."""
    for item in doc.items:
        entry = item.scores.get(metric)
        if entry is not None:
            yield item.id, entry.score, entry.pass_
