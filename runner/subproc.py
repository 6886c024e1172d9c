"""Child processes Flywheel starts (the llama.cpp server, the local trainer): no secrets in their environment, and
stopped as a whole process group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

SECRET_SUFFIXES = ("_KEY", "_TOKEN", "_SECRET")


def scrubbed_env() -> dict[str, str]:
    """This process's environment without any variable that looks like a secret (`*_KEY`, `*_TOKEN`,
    `*_SECRET`): a child that needs no key never holds one."""
    return {k: v for k, v in os.environ.items() if not k.endswith(SECRET_SUFFIXES)}


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Terminate `process` and its process group (started with `start_new_session=True`), killing it if it
    lingers past 10 s."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
