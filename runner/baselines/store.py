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

from runner.engine.results import read_result, write_result
from runner.errors import FlywheelError

FOLDER = "baselines"


class GitError(FlywheelError):
    """A git command failed (unknown ref, not a repository)."""


def baseline_path(root: Path, eval_name: str, model_slug: str) -> Path:
    return root / FOLDER / eval_name / f"{model_slug}.json"


def write_baseline(path: Path, result: Mapping[str, Any]) -> None:
    """Write the baseline of one result document."""
    header = {
        "kind": "Baseline",
        "eval": result["eval"],
        "model": result["model"],
        "dataset": result["dataset"],
        "split": result["split"],
        "repeats": result["repeats"],
        "reduce": result["reduce"],
        "metrics": result["metrics"],
        "provenance": result["provenance"],
    }
    write_result(path, header, ({"id": i["id"], "scores": i["scores"]} for i in result["items"]))


def update_from_results(root: Path, results_dir: Path, evals: set[str] | None = None) -> list[Path]:
    """Write a baseline for every latest result (optionally only of `evals`); return the files written."""
    written = []
    for result_file in sorted(results_dir.glob("*/*.json")):
        eval_name = result_file.parent.name
        if evals is not None and eval_name not in evals:
            continue
        result = read_result(result_file)
        path = baseline_path(root, eval_name, result_file.stem)
        write_baseline(path, result)
        written.append(path)
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
