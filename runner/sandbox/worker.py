"""One sandbox worker process, seen from Flywheel: start it, send requests, read answers with a deadline and an
output cap, and kill its whole process group when it misbehaves or is no longer needed."""

from __future__ import annotations

import contextlib
import ctypes.util
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

CHILD = Path(__file__).with_name("child.py")
ANSWER = b"\x1eFLYWHEEL "
MAX_OUTPUT = 1 << 20
"""Bytes a worker may write (prints, noise, answers) per request before it is killed as misbehaving."""
TAIL = 2000
STARTUP_S = 10.0
"""Time to start the interpreter and confine it, on top of the grader's own timeout for its module code."""


class SandboxError(Exception):
    """The grader failed, timed out, broke a limit or tried something the sandbox refuses."""


class Refused(SandboxError):
    """The worker would not start: the kernel confinement it requires is missing on this host."""


@dataclass(frozen=True)
class Config:
    """Everything that defines a worker: the grader, its limits and what it may read."""

    source: str
    read_paths: tuple[str, ...]
    timeout_s: float
    memory_mb: int
    cpu_s: int
    unsafe: bool = False
    """Run even where seccomp is unavailable (the user opted in)."""
    simulate_missing: tuple[str, ...] = ()
    """Tests only: behave as if these kernel features were missing ("seccomp", "landlock")."""
    prefix: tuple[str, ...] = ()
    """Command run before the interpreter, e.g. `unshare --net ...` for an empty network namespace."""
    sys_path: tuple[str, ...] = ()
    """The worker's `sys.path` (it starts without `site`): the standard library and site-packages."""


@cache
def _libraries() -> dict[str, str | None]:
    """Sonames the worker's bindings load, found once here instead of in every worker."""
    return {name: ctypes.util.find_library(name) for name in ("c", "seccomp")}


class Worker:
    """A started worker; `confinement` says what applied (Landlock ABI, seccomp, notes)."""

    def __init__(self, config: Config, on_start: Callable[[int], object] = lambda pid: None) -> None:
        self.config = config
        self._cwd = tempfile.TemporaryDirectory(prefix="flywheel-grader-")
        self.proc = subprocess.Popen(
            [*config.prefix, sys.executable, "-I", "-S", "-B", "-X", "utf8", str(CHILD)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=self._cwd.name,
            env={},
            start_new_session=True,
        )
        self.pid = self.proc.pid
        on_start(self.pid)
        self._buffer = b""
        self.uses = 0
        self.confinement: dict[str, Any] = {}
        setup = {
            "source": config.source,
            "read_paths": list(config.read_paths),
            "memory_mb": config.memory_mb,
            "cpu_s": config.cpu_s,
            "unsafe": config.unsafe,
            "simulate_missing": list(config.simulate_missing),
            "sys_path": list(config.sys_path),
            "libraries": _libraries(),
        }
        try:
            self._send(setup)
            confined = self._receive(STARTUP_S, what="start")
            if "refused" in confined:
                raise Refused(str(confined["refused"]))
            self.confinement = confined
            answer = self._receive(config.timeout_s)  # the grader's module code runs now
        except BaseException:
            self.kill()
            raise
        if not answer.get("ready"):
            self.kill()
            raise SandboxError(str(answer.get("error", "the grader did not start")))

    def grade(self, sample: Any, item: Any) -> float:
        """One `grade(sample, item)`; raise SandboxError (the worker is then dead) or return the score."""
        self.uses += 1
        self._send({"sample": sample, "item": item, "seq": self.uses})
        answer = self._receive(self.config.timeout_s, seq=self.uses)
        if "error" in answer:
            raise SandboxError(str(answer["error"]))
        score = answer.get("score")
        if not isinstance(score, float):
            raise SandboxError("the grader process wrote no score")
        return score

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(message).encode() + b"\n")
            self.proc.stdin.flush()
        except OSError:
            pass  # it died; reading says how

    def _receive(self, timeout_s: float, *, seq: int | None = None, what: str = "") -> dict[str, Any]:
        """The next answer carrying `seq`, read within `timeout_s` and the output cap; else kill and raise."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        fd = self.proc.stdout.fileno()
        received = 0
        while True:
            while (answer := self._take_answer()) is not None:
                if answer.get("seq") == seq:  # a stale or forged answer is skipped
                    return answer
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.kill()
                if what == "start":
                    raise SandboxError(f"the sandbox did not start within {timeout_s:g} s")
                raise SandboxError(f"timed out after {timeout_s:g} s")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                message = self._death()
                self.kill()
                raise SandboxError(message)
            received += len(chunk)
            if received > MAX_OUTPUT:
                self.kill()
                raise SandboxError(f"the grader wrote more than {MAX_OUTPUT >> 20} MiB of output")
            self._buffer = (self._buffer + chunk)[-(MAX_OUTPUT + len(ANSWER)) :]

    def _take_answer(self) -> dict[str, Any] | None:
        start = self._buffer.find(b"\n" + ANSWER)
        if start < 0:
            return None
        end = self._buffer.find(b"\n", start + 1)
        if end < 0:
            return None
        line = self._buffer[start + 1 + len(ANSWER) : end]
        self._buffer = self._buffer[end + 1 :]
        try:
            answer = json.loads(line)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            self.kill()
            raise SandboxError("the grader process wrote a malformed answer")
        return answer

    def _death(self) -> str:
        """Why the worker closed its output: its exit status, once it has exited (or been killed)."""
        try:
            code = self.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self.kill()  # it closed its output but kept running
            code = self.proc.wait()
        tail = self._buffer.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        if code < 0:
            if -code in (signal.SIGKILL, signal.SIGXCPU):
                return "the grader exceeded its CPU time limit"
            if -code == signal.SIGSYS:
                return "the grader made a system call the sandbox forbids"
            return f"the grader process died with signal {-code}"
        if "MemoryError" in tail[0]:
            return f"the grader exceeded its memory limit ({self.config.memory_mb} MB)"
        return f"the grader process failed (exit {code}): {tail[0][:TAIL]}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker's whole process group and reap it; idempotent."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._cwd.cleanup()
