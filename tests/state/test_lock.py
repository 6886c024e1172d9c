"""The state lock: exclusive (kernel flock), freed when its holder exits, force-unlock needs the id."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from runner.cli import main
from runner.errors import FlywheelError
from runner.state.lock import LockedError, StateLock, force_unlock


def _dead_pid() -> int:
    code = "import os; print(os.getpid())"
    proc = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(proc.stdout)


def _stale(path: Path, lock_id: str = "old") -> None:
    """A lock file describing a holder that is gone (as `kill -9` leaves it)."""
    info = {"id": lock_id, "pid": _dead_pid(), "host": socket.gethostname(), "created": 0, "operation": "apply"}
    path.write_text(json.dumps(info))


def test_second_holder_fails_clearly(tmp_path: Path) -> None:
    with StateLock(tmp_path, "apply") as info:
        with pytest.raises(LockedError) as err:
            StateLock(tmp_path, "apply").acquire()
        assert str(err.value) == (
            f"the state is locked by {info.describe()}; wait for it to finish (--lock-timeout SECONDS) or, if it "
            f"hangs, run: flywheel force-unlock {info.id}"
        )
        assert json.loads((tmp_path / "state.lock").read_text())["id"] == info.id
    assert not (tmp_path / "state.lock").exists()


def test_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    _stale(tmp_path / "state.lock")
    with StateLock(tmp_path, "apply") as info:
        assert info.id != "old"
        assert json.loads((tmp_path / "state.lock").read_text())["id"] == info.id


@pytest.mark.parametrize("content", ["", "{", "null", '{"id": "x"}'])
def test_an_empty_or_junk_lock_file_blocks_nothing(tmp_path: Path, content: str) -> None:
    (tmp_path / "state.lock").write_text(content)
    with StateLock(tmp_path, "apply") as info:
        assert json.loads((tmp_path / "state.lock").read_text())["id"] == info.id


def test_a_killed_holder_frees_the_lock(tmp_path: Path) -> None:
    code = f"from pathlib import Path; from runner.state.lock import StateLock; StateLock(Path({str(tmp_path)!r}), 'apply').acquire(); print('held', flush=True); import time; time.sleep(60)"
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None and child.stdout.readline() == "held\n"
            with pytest.raises(LockedError, match=f"pid {child.pid} on "):
                StateLock(tmp_path, "apply").acquire()
        finally:
            child.kill()
    with StateLock(tmp_path, "apply", timeout_s=10):
        pass


def test_a_lock_released_while_waiting_is_not_held_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """B opens the lock file, A releases (unlinks it), B's flock then succeeds on the unlinked file: B must not
    count that as holding, or C, locking the new file at the path, would hold it too."""
    first = StateLock(tmp_path, "apply")
    first.acquire()
    real_flock = fcntl.flock
    calls = []

    def flock_after_release(fd: int, op: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            first.release()
        real_flock(fd, op)

    monkeypatch.setattr(fcntl, "flock", flock_after_release)
    second = StateLock(tmp_path, "apply")
    second.acquire()
    monkeypatch.setattr(fcntl, "flock", real_flock)
    assert len(calls) == 2  # the first flock won the unlinked file and was discarded
    with pytest.raises(LockedError):
        StateLock(tmp_path, "apply").acquire()
    second.release()


_RACER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from runner.state.lock import StateLock

    state, inside, go, rounds = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    while not go.exists():
        time.sleep(0.001)
    both = 0
    for _ in range(rounds):
        with StateLock(state, "apply", timeout_s=60):
            try:
                os.close(os.open(inside, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                both += 1
                continue
            time.sleep(0.002)
            os.unlink(inside)
    print(both)
    """
)


def test_processes_racing_for_a_stale_lock_never_both_hold_it(tmp_path: Path) -> None:
    state, inside, go = tmp_path / "state", tmp_path / "inside", tmp_path / "go"
    state.mkdir()
    _stale(state / "state.lock")
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(state), str(inside), str(go), "25"], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    time.sleep(0.3)
    go.touch()
    outputs = [r.communicate(timeout=120)[0] for r in racers]
    assert [r.returncode for r in racers] == [0, 0, 0, 0]
    assert [int(o) for o in outputs] == [0, 0, 0, 0]  # nobody ever found another holder inside
    assert not (state / "state.lock").exists()


def test_force_unlock_needs_the_right_id(tmp_path: Path) -> None:
    lock = StateLock(tmp_path, "apply")
    info = lock.acquire()
    with pytest.raises(FlywheelError, match="lock id mismatch"):
        force_unlock(tmp_path, "nope")
    done = force_unlock(tmp_path, info.id)
    assert (done.holder, done.was_held) == (info, True)
    with pytest.raises(FlywheelError, match="the state is not locked"):
        force_unlock(tmp_path, info.id)
    with StateLock(tmp_path, "apply") as other:  # the hung holder no longer excludes anyone
        lock.release()  # ...and its late release leaves the new holder's lock alone
        assert json.loads((tmp_path / "state.lock").read_text())["id"] == other.id


def test_force_unlock_of_a_stale_description(tmp_path: Path) -> None:
    _stale(tmp_path / "state.lock", "abc")
    done = force_unlock(tmp_path, "abc")
    assert (done.holder.id, done.was_held) == ("abc", False)
    assert not (tmp_path / "state.lock").exists()


def test_an_empty_lock_file_is_not_a_lock(tmp_path: Path) -> None:
    (tmp_path / "state.lock").write_text("")
    with pytest.raises(FlywheelError) as err:
        force_unlock(tmp_path, "abc")
    assert str(err.value) == f"{tmp_path / 'state.lock'}: the state is not locked; nothing to unlock"


def test_a_symlinked_lock_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.write_text("keep")
    (tmp_path / "state.lock").symlink_to(target)
    with pytest.raises(FlywheelError) as err:
        StateLock(tmp_path, "apply").acquire()
    assert str(err.value) == f"{tmp_path / 'state.lock'}: the state lock is a symbolic link; remove it and run again"
    assert target.read_text() == "keep"


def test_force_unlock_command(mini_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = StateLock(mini_repo / ".flywheel", "apply")
    info = lock.acquire()
    assert main(["force-unlock", info.id]) == 0
    assert capsys.readouterr().out == (
        f"unlocked: removed the lock held by {info.describe()}; that process still runs: stop it\n"
    )
    lock.release()
    _stale(mini_repo / ".flywheel" / "state.lock", "abc")
    assert main(["force-unlock", "abc"]) == 0
    assert capsys.readouterr().out.endswith("lock id abc); that process had already exited\n")


def test_waiting_times_out(tmp_path: Path) -> None:
    with StateLock(tmp_path, "apply"), pytest.raises(LockedError):
        StateLock(tmp_path, "apply", timeout_s=0.3).acquire()


def test_waiting_gets_the_lock_when_the_holder_releases(tmp_path: Path) -> None:
    code = f"from pathlib import Path; from runner.state.lock import StateLock; import time; l = StateLock(Path({str(tmp_path)!r}), 'apply'); l.acquire(); print('held', flush=True); time.sleep(0.5); l.release()"
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        with StateLock(tmp_path, "apply", timeout_s=30) as info:
            assert info.pid == os.getpid()
        assert child.wait(timeout=30) == 0
