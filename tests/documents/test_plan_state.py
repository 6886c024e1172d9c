"""Saved plans and the state file through their models: today's files read, newer or foreign ones are refused
with the file and the fix, and what Flywheel writes always validates against the model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from runner.documents.plan import SavedPlan
from runner.documents.state import StateFile
from runner.errors import DocumentError
from runner.reconcile.render import load_plan
from runner.state.store import load_state, save_state
from tests.conftest import FIXTURES

PLAN_V1 = FIXTURES / "documents" / "plan-v1.json"
STATE_V1 = FIXTURES / "documents" / "state-v1.json"


def test_a_version_1_saved_plan_reads() -> None:
    plan = load_plan(PLAN_V1)
    assert [(a.type, a.eval, a.model, a.cells) for a in plan.actions] == [("run", "upper", "student@champion", 40)]
    assert [(r.recipe, r.backend, r.reasons) for r in plan.retrains] == [("upper-sft", "fake", ("never trained",))]
    assert SavedPlan.model_validate(plan.to_json()) == SavedPlan.model_validate_json(PLAN_V1.read_text())


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"version": 2},
            "{path}: written by a newer Flywheel (saved plan version 2; this one reads up to version 1); "
            "upgrade: pip install -U flywheel-evals",
        ),
        ({"version": None}, "{path}: not a Flywheel saved plan (no integer `version`); {fix}"),
        ({"serial": -1}, "{path}: serial: Input should be greater than or equal to 0; {fix}"),
        ({"actions": [{"type": "delete"}]}, "{path}: actions -> 0 -> type: Input should be 'run', 'regrade', "
         "'reuse' or 'prune' (and 5 more); {fix}"),
    ],
    ids=["newer", "unversioned", "bad-serial", "bad-action"],
)  # fmt: skip
def test_unreadable_saved_plans_are_refused(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    data = json.loads(PLAN_V1.read_text()) | change
    path = _write(tmp_path, data)
    with pytest.raises(DocumentError) as err:
        load_plan(path)
    assert str(err.value) == message.format(path=path, fix=f"write a new one with: flywheel plan --out {path}")


def test_a_json_array_is_not_a_plan(tmp_path: Path) -> None:
    path = _write(tmp_path, [1])
    with pytest.raises(DocumentError) as err:
        load_plan(path)
    assert str(err.value) == (
        f"{path}: not a Flywheel saved plan (not a JSON object); write a new one with: flywheel plan --out {path}"
    )


def test_a_version_1_state_reads_and_writes_back_the_same(tmp_path: Path) -> None:
    shutil.copy(STATE_V1, tmp_path / "state.json")
    state = load_state(tmp_path)
    assert (state.serial, len(state.targets)) == (json.loads(STATE_V1.read_text())["serial"], 1)
    target = state.target("upper", "student@champion")
    assert target is not None and sorted(target.cells) == ["i20#0", "i21#0", "i22#0"]
    written = save_state(tmp_path, state)
    again = StateFile.model_validate_json((tmp_path / "state.json").read_text())
    old = StateFile.model_validate_json(STATE_V1.read_text())
    assert again == old.model_copy(update={"serial": old.serial + 1})
    assert written.serial == old.serial + 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"version": 3},
            "{path}: written by a newer Flywheel (state file version 3; this one reads up to version 1); "
            "upgrade: pip install -U flywheel-evals",
        ),
        ({"version": "1"}, "{path}: not a Flywheel state file (no integer `version`); {fix}"),
        (
            {"serial": "x"},
            "{path}: serial: Input should be a valid integer, unable to parse string as an integer; {fix}",
        ),
        ({"jobs": {}}, "{path}: jobs: Extra inputs are not permitted; {fix}"),
    ],
    ids=["newer", "string-version", "bad-serial", "unknown-section"],
)
def test_unreadable_state_is_refused(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    (tmp_path / "state.json").write_text(json.dumps(json.loads(STATE_V1.read_text()) | change))
    with pytest.raises(DocumentError) as err:
        load_state(tmp_path)
    path = tmp_path / "state.json"
    assert str(err.value) == message.format(path=path, fix="move it aside to start over (results are kept)")
