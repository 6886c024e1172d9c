"""The guard between Flywheel and a long-lived child (the embedded model's server): `python -m
runner.subproc_guard --log FILE -- CMD...`.

The guard starts CMD with the kernel's parent-death signal set (PR_SET_PDEATHSIG: SIGKILL when the guard dies,
however it dies), prints CMD's pid on its stdout, then waits for one of: end of file on its stdin (Flywheel
holds the other end of that pipe, so its exit closes it, even after `kill -9`), SIGTERM, SIGHUP or SIGINT, or
CMD exiting. In the first two cases it stops CMD (SIGTERM to its process group, SIGKILL after a grace period).
The guard is single-threaded, which is what makes the parent-death signal reliable: the kernel sends it when
the *thread* that forked the child ends.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from types import FrameType

PR_SET_PDEATHSIG = 1
GRACE_S = 5.0


def parent_death_signal(sig: int = signal.SIGKILL) -> Callable[[], None] | None:
    """A `preexec_fn` that asks the kernel to send `sig` to the child when its parent dies (Linux); None where
    prctl is not available."""
    name = ctypes.util.find_library("c")
    if name is None or not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(name, use_errno=True).prctl

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return arm


def _stop(child: subprocess.Popen[bytes]) -> int:
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(GRACE_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    return 0


def guard(cmd: Sequence[str], log: str) -> int:
    """Run `cmd` until stdin closes, a stop signal arrives or `cmd` exits; return `cmd`'s code (0 when stopped)."""
    stopping: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_signal)
    with open(log, "ab") as fh:
        child = subprocess.Popen(
            list(cmd),
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopping it takes its children too
            preexec_fn=parent_death_signal(),  # noqa: PLW1509 - the guard is single-threaded
        )
    print(child.pid, flush=True)
    stdin = sys.stdin.buffer.fileno()
    while not stopping:
        code = child.poll()
        if code is not None:
            return code
        try:
            readable, _, _ = select.select([stdin], [], [], 0.2)
        except InterruptedError:
            continue
        if readable and not os.read(stdin, 4096):
            break  # Flywheel is gone (or closed the pipe to stop us)
    return _stop(child)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.subproc_guard")
    parser.add_argument("--log", required=True)
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("give the command to run after --")
    return guard(cmd, args.log)


if __name__ == "__main__":
    sys.exit(main())
