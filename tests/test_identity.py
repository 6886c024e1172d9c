"""Cell and run identity: golden hashes pin every field list, and the hashes move exactly when they should."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.engine.cells import cells, plan_model_run
from runner.identity import (
    CELL_FIELDS,
    GRADING_FIELDS,
    IDENTITY_VERSION,
    RUN_FIELDS,
    RunIdentity,
    call_key,
    cell_key,
    grading_hash,
    items_hash,
    template_error_key,
)
from runner.models.types import ChatRequest
from runner.specs.loader import load_specs
from tests.conftest import copy_fixture

GRADING = grading_hash({"exact": "a" * 64}, [{"name": "accuracy", "grader": "exact"}])


def test_field_lists_and_version_are_pinned() -> None:
    # Changing a list changes every hash: bump IDENTITY_VERSION and the golden values below together.
    assert IDENTITY_VERSION == 1
    assert CELL_FIELDS == ("version", "call", "item", "grading")
    assert GRADING_FIELDS == ("version", "graders", "metrics")
    assert RUN_FIELDS == (
        "version",
        "eval",
        "endpoint",
        "model_id",
        "sampling",
        "prompt",
        "dataset",
        "split",
        "repeats",
        "reduce",
        "grading",
    )


def test_golden_hashes() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert call_key("https://x/v1", body, 0) == "67fee4e2c11a596dcd474887622a5196ee7c66c37a604e31397ab485e4083f02"
    assert GRADING == "5bd16aef406667515e7afb4b1bc00f72ad655652d87ab272ade909e11ecb6f9c"
    assert cell_key("c" * 64, "i" * 64, GRADING) == "7982f33c700cf7831c87c92cdd5e46ebe7f3181edaf9c6c030b4c32e846a520a"
    assert items_hash([("b", "2" * 64), ("a", "1" * 64)]) == (
        "6bc43b44e9a0f3c87dbaa9e10845b7269fc3882f22cb2d3669f8dcdb784160c9"
    )
    assert template_error_key("boom", "i" * 64) == "90e4ec0af048c10d3a9f9e45f31084e62edba77d3668994c105e80ac4ffb105f"
    run = RunIdentity("words", "https://x/v1", "m", {"temperature": 0}, "p" * 64, "d" * 64, "test", 1, "mean", GRADING)
    assert tuple(run.fields()) == RUN_FIELDS
    assert run.run_id == "35a1540e27650df246d206ee39c7b3ab5ea75bcef317535dac4c27d1fa1d774e"


def test_the_request_cache_key_is_the_call_key() -> None:
    # Caches and committed cassettes are keyed by ChatRequest.key: it must stay the identity's call key.
    request = ChatRequest("https://x/v1", "m", ({"role": "user", "content": "hi"},), {"temperature": 0})
    assert request.key(3) == call_key("https://x/v1", request.body(), 3)


def test_items_hash_ignores_order_but_not_content() -> None:
    a, b = ("a", "1" * 64), ("b", "2" * 64)
    assert items_hash([a, b]) == items_hash([b, a])
    assert items_hash([a, b]) != items_hash([a, ("b", "3" * 64)])
    assert items_hash([a]) != items_hash([a, b])


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    dest = copy_fixture("engine", tmp_path / "repo", "http://127.0.0.1:9/v1", "specs/eval.yaml")
    words = dest / "specs" / "words.jsonl"
    lines = words.read_text().splitlines()
    lines.append(json.dumps({"id": "t00", "word": "zulu", "split": "train"}))
    words.write_text("\n".join(lines) + "\n")
    return dest


def _edit(repo: Path, item_id: str, word: str) -> None:
    path = repo / "specs" / "words.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        if row["id"] == item_id:
            row["word"] = word
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _snapshot(repo: Path) -> tuple[str, str, dict[str, str]]:
    specs = load_specs([repo / "specs"])
    plan = plan_model_run(specs, "words", "fake")
    return plan.run_id, plan.identity.dataset, {c.id: c.key for c in cells(specs, plan)}


def test_editing_an_item_outside_the_split_changes_nothing(repo: Path) -> None:
    before = _snapshot(repo)
    _edit(repo, "t00", "yankee")
    assert _snapshot(repo) == before


def test_editing_a_test_item_changes_the_run_and_only_its_own_cell(repo: Path) -> None:
    run_id, dataset, keys = _snapshot(repo)
    _edit(repo, "w03", "echo")
    run_id2, dataset2, keys2 = _snapshot(repo)
    assert run_id2 != run_id
    assert dataset2 != dataset
    assert {k for k in keys if keys[k] != keys2[k]} == {"w03#0"}


def test_reordering_the_dataset_changes_no_identity(repo: Path) -> None:
    before = _snapshot(repo)
    path = repo / "specs" / "words.jsonl"
    path.write_text("".join(reversed(path.read_text().splitlines(keepends=True))))
    assert _snapshot(repo) == before


def test_limit_and_repeats_are_part_of_the_run(repo: Path) -> None:
    specs = load_specs([repo / "specs"])
    full = plan_model_run(specs, "words", "fake")
    assert plan_model_run(specs, "words", "fake", limit=5).run_id != full.run_id
    assert plan_model_run(specs, "words", "fake", repeats=2).run_id != full.run_id
    # a cell is the same cell whatever run it belongs to, so a --limit run's cells are reused by the full run
    limited = {c.id: c.key for c in cells(specs, plan_model_run(specs, "words", "fake", limit=5))}
    assert limited.items() <= {c.id: c.key for c in cells(specs, full)}.items()
