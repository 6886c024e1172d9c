"""Child processes: no secrets in their environment, stopped with their whole process group."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from runner.subproc import scrubbed_env, stop_group


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
