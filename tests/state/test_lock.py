"""The state lock: exclusive, stale locks of dead processes are taken over, force-unlock needs the id."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runner.cli import main
from runner.errors import FlywheelError
from runner.state.lock import LockedError, StateLock, force_unlock


def test_second_holder_fails_clearly(tmp_path: Path) -> None:
    with StateLock(tmp_path, "apply") as info:
        with pytest.raises(LockedError) as err:
            StateLock(tmp_path, "apply").acquire()
        assert f"lock id {info.id}" in str(err.value)
        assert str(err.value).endswith(f"or, if it is gone, run: flywheel force-unlock {info.id}")
    assert not (tmp_path / "state.lock").exists()


def test_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    dead = int(proc.stdout)
    (tmp_path / "state.lock").write_text(
        json.dumps(
            {"id": "old", "pid": dead, "host": __import__("socket").gethostname(), "created": 0, "operation": "apply"}
        )
    )
    with StateLock(tmp_path, "apply") as info:
        assert info.id != "old"


def test_force_unlock_needs_the_right_id(tmp_path: Path) -> None:
    lock = StateLock(tmp_path, "apply")
    info = lock.acquire()
    with pytest.raises(FlywheelError, match="lock id mismatch"):
        force_unlock(tmp_path, "nope")
    assert force_unlock(tmp_path, info.id).id == info.id
    with pytest.raises(FlywheelError, match="the state is not locked"):
        force_unlock(tmp_path, info.id)


def test_force_unlock_command(mini_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    info = StateLock(mini_repo / ".flywheel", "apply").acquire()
    assert main(["force-unlock", info.id]) == 0
    assert capsys.readouterr().out.startswith("unlocked: removed the lock held by apply (pid ")


def test_waiting_times_out(tmp_path: Path) -> None:
    with StateLock(tmp_path, "apply"), pytest.raises(LockedError):
        StateLock(tmp_path, "apply", timeout_s=0.3).acquire()
