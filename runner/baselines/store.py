"""Writing baselines from results, and reading them as they are on a git ref.

A baseline is `baselines/<eval>/<model>.json`: canonical JSON with the hashes it was computed under,
provenance, metric summaries and one line per item holding only its scores (no model output, no secrets).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from runner.baselines.ledger import FOLDER, append_unique, history_path
from runner.engine.results import read_result, write_result
from runner.errors import FlywheelError

"""`baselines/history.jsonl`: one line per (eval, model, commit) baseline written on main, oldest first. It feeds
trend views and the `metric_below` retraining trigger (N consecutive runs under a floor)."""


class GitError(FlywheelError):
    """A git command failed (unknown ref, not a repository)."""


def baseline_path(root: Path, eval_name: str, model_slug: str) -> Path:
    return root / FOLDER / eval_name / f"{model_slug}.json"


def write_baseline(path: Path, result: Mapping[str, Any]) -> None:
    """Write the baseline of one result document."""
    header = {
        "kind": "Baseline",
        "eval": result["eval"],
        "run_id": result.get("run_id"),
        "model": result["model"],
        "dataset": result["dataset"],
        "split": result["split"],
        "repeats": result["repeats"],
        "reduce": result["reduce"],
        "metrics": result["metrics"],
        "provenance": result["provenance"],
    }
    write_result(path, header, ({"id": i["id"], "scores": i["scores"]} for i in result["items"]))


def history_entry(result: Mapping[str, Any], slug: str) -> dict[str, Any]:
    """The trend line of one result: when (commit), what (eval, model), and each metric's value and n."""
    git_info = result["provenance"].get("git") or {}
    return {
        "commit": git_info.get("commit"),
        "created": result["provenance"].get("created"),
        "eval": result["eval"],
        "model": slug,
        "model_id": result["model"]["id"],
        "metrics": {
            name: {"value": m["value"], "n": m["n"], "floor_ok": m.get("floor_ok")}
            for name, m in sorted(result["metrics"].items())
        },
        "run_id": result.get("run_id"),
    }


def _append_history(root: Path, entries: list[dict[str, Any]]) -> bool:
    """Append entries not already recorded for the same (eval, model, commit, run); True when the file changed."""
    return append_unique(history_path(root), entries, lambda e: (e["eval"], e["model"], e["commit"], e.get("run_id")))


def update_from_results(root: Path, results_dir: Path, evals: set[str] | None = None) -> list[Path]:
    """Write a baseline for every latest result (optionally only of `evals`) and append the trend history;
    return the files written."""
    written = []
    entries = []
    for result_file in sorted(results_dir.glob("*/*.json")):
        eval_name = result_file.parent.name
        if evals is not None and eval_name not in evals:
            continue
        result = read_result(result_file)
        path = baseline_path(root, eval_name, result_file.stem)
        write_baseline(path, result)
        written.append(path)
        entries.append(history_entry(result, result_file.stem))
    if entries and _append_history(root, entries):
        written.append(history_path(root))
    return written


def git(root: Path, *args: str) -> str:
    """Run git in `root`; raise GitError with git's message on failure."""
    try:
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(f"git {' '.join(args)}: {exc}") from None
    if proc.returncode != 0:
        raise GitError(f"git {' '.join(args)}: {proc.stderr.strip() or 'failed'}")
    return proc.stdout


def read_at(root: Path, ref: str, rel: str) -> dict[str, Any] | None:
    """The JSON file `rel` as it is on `ref`, or None when it does not exist there."""
    listing = git(root, "ls-tree", "--name-only", ref, "--", rel)
    if not listing.strip():
        return None
    data = json.loads(git(root, "show", f"{ref}:{rel}"))
    return data if isinstance(data, dict) else None


def item_scores(baseline: Mapping[str, Any], metric: str) -> Iterator[tuple[str, float, float]]:
    """(item id, score, pass value) of `metric` for each item of a baseline or result document."""
    for item in baseline["items"]:
        entry = item["scores"].get(metric)
        if entry is not None:
            yield item["id"], float(entry["score"]), float(entry["pass"])
