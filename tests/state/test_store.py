"""State files: lineage kept, serial bumped on every write, atomic, unreadable state is a clean error."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import DocumentError
from runner.state.store import State, StateError, TargetState, load_state, save_state


def test_round_trip_bumps_serial_and_keeps_lineage(tmp_path: Path) -> None:
    state = load_state(tmp_path)
    assert state.serial == 0
    target = TargetState(
        "m", "e", {"prompt": "p"}, {"a#0": ("c", "g")}, "r.json", ({"commit": None, "metrics": {"x": 1.0}},)
    )
    first = save_state(tmp_path, state.with_target("ev", "m", target))
    second = save_state(tmp_path, first)
    loaded = load_state(tmp_path)
    assert state.lineage == ""
    assert (loaded.lineage, loaded.serial) == (first.lineage, 2)
    assert len(first.lineage) == 32
    assert second.serial == 2
    assert loaded.target("ev", "m") == target
    assert list(tmp_path.iterdir()) == [tmp_path / "state.json"]


def test_unreadable_state_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{nope")
    with pytest.raises(StateError, match="unreadable state"):
        load_state(tmp_path)
    (tmp_path / "state.json").write_text('{"version": 9}')
    with pytest.raises(DocumentError, match=r"state file version 9; this one reads up to version 1\); upgrade"):
        load_state(tmp_path)


def test_each_new_state_gets_its_own_lineage(tmp_path: Path) -> None:
    a = save_state(tmp_path / "a", State.empty())
    b = save_state(tmp_path / "b", State.empty())
    assert a.lineage and b.lineage and a.lineage != b.lineage
