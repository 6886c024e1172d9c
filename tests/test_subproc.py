"""Child processes: no secrets in their environment, stopped with their whole process group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.subproc import owns_port, scrubbed_env, start_guarded, stop_group


def test_scrubbed_env_drops_anything_that_looks_like_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "GITHUB_TOKEN", "AWS_SECRET"):
        monkeypatch.setenv(name, "s3cret")
    monkeypatch.setenv("FLYWHEEL_PLAIN", "kept")
    env = scrubbed_env()
    assert env["FLYWHEEL_PLAIN"] == "kept"
    assert not {"OPENAI_API_KEY", "GITHUB_TOKEN", "AWS_SECRET"} & set(env)


def _group_alive(pgid: int) -> bool:
    return subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, check=False).returncode == 0


def test_stop_group_ends_the_child_and_its_own_children() -> None:
    code = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); print('up', flush=True); time.sleep(60)"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True)
    assert process.stdout is not None
    with process.stdout:
        assert process.stdout.readline() == b"up\n"
    stop_group(process)
    assert process.returncode is not None
    deadline = time.monotonic() + 10  # the orphaned grandchild got SIGTERM too; give the kernel a moment
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _group_alive(process.pid)
    stop_group(process)  # stopping a stopped process is a no-op


OWNER = """
import sys, time
from pathlib import Path
from runner.subproc import start_guarded, stop_on_signals
restore = stop_on_signals()
child = start_guarded([sys.executable, "-c", "import time; time.sleep(120)"], Path(sys.argv[1]))
try:
    print(child.pid, flush=True)
    time.sleep(120)
finally:
    child.stop()
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def _gone(pid: int, within: float = 15.0) -> bool:
    deadline = time.monotonic() + within
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_guarded_child_never_outlives_its_owner(tmp_path: Path, how: signal.Signals) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(tmp_path / "child.log")],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).parent.parent,
    )
    assert owner.stdout is not None
    with owner.stdout:
        child = int(owner.stdout.readline())
    assert _alive(child)
    owner.send_signal(how)
    owner.wait(timeout=20)
    assert _gone(child)


def test_stopping_a_guarded_child_ends_it_and_its_guard(tmp_path: Path) -> None:
    child = start_guarded([sys.executable, "-c", "import time; time.sleep(120)"], tmp_path / "c.log")
    assert child.poll() is None
    child.stop()
    assert child.poll() is not None
    assert _gone(child.pid)
    child.stop()  # stopping a stopped child is a no-op


def test_owns_port_tells_our_listener_from_another_process(tmp_path: Path) -> None:
    with socket.socket() as ours:
        ours.bind(("127.0.0.1", 0))
        ours.listen()
        port = ours.getsockname()[1]
        assert owns_port(os.getpid(), port)
        other = start_guarded([sys.executable, "-c", "import time; time.sleep(120)"], tmp_path / "o.log")
        try:
            assert not owns_port(other.pid, port)
        finally:
            other.stop()
    assert not owns_port(os.getpid(), port)  # nobody listens any more
