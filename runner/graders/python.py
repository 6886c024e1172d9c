"""`python` graders: `grade(sample, item) -> float` from a pull request is hostile code, so it runs in a separate
process and never in Flywheel's own.

Layers, each enough to stop the obvious attack and together hard to get around:
- a fresh interpreter (`python -I`: no PYTHON* variables, no user site) with an environment of PATH and LANG only,
  so no API key or CI token is inherited; its working folder is an empty temporary one;
- a private, empty network namespace (`unshare --net`, where user namespaces are available), so there is no
  network to reach even from native code;
- an audit hook installed before the grader's code runs that refuses sockets, subprocesses, `ctypes` and file
  writes (`sandbox_child.py`);
- resource limits: address space (`memory_mb`), CPU seconds, file size and open files; and a wall-clock timeout
  after which the process group is killed.
A crash, a timeout, an exceeded limit or a refused operation is a graded error for that sample, never a crashed run.
One process per call costs about 30 ms of CPU; results are journaled per cell, so a re-run does not pay it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import weakref
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from runner.graders.base import GradeContext, GradeResult, Sample
from runner.specs.grader import PythonGrader

CHILD = Path(__file__).with_name("sandbox_child.py")
MAX_OUTPUT = 1 << 20
"""Bytes of grader stdout read before the process is treated as misbehaving."""
SAFE_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}

_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _slot() -> asyncio.Semaphore:
    """Bound concurrent grader processes per event loop to the CPU count."""
    loop = asyncio.get_running_loop()
    if loop not in _slots:
        _slots[loop] = asyncio.Semaphore(max(1, os.cpu_count() or 1))
    return _slots[loop]


@cache
def _unshare_prefix() -> tuple[str, ...]:
    """`unshare` arguments that give the child an empty network namespace, or () where that is not possible."""
    tool = shutil.which("unshare")
    if tool is None:
        return ()
    prefix = (tool, "--net", "--user", "--map-root-user")
    try:
        probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return ()
    return prefix if probe.returncode == 0 else ()


def network_isolated() -> bool:
    """Whether python graders run without any network namespace access (else only the audit hook refuses it)."""
    return bool(_unshare_prefix())


def _limits(memory_mb: int, cpu_s: int) -> None:
    """Runs in the child between fork and exec."""
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def grader_source(spec: PythonGrader, spec_dir: Path) -> str:
    """The grader's code: inline `source`, or the `file` relative to the spec's folder."""
    if spec.source is not None:
        return spec.source
    assert spec.file is not None  # the spec validator requires one of them
    return (spec_dir / spec.file).read_text(encoding="utf-8")


async def run_grader(
    source: str, sample: Mapping[str, Any], item: Mapping[str, Any], *, timeout_s: float, memory_mb: int
) -> float:
    """Run `grade(sample, item)` in the sandbox; return its score or raise SandboxError."""
    request = json.dumps({"source": source, "sample": dict(sample), "item": dict(item)}).encode()
    cpu_s = max(1, math.ceil(timeout_s))
    async with _slot():
        with tempfile.TemporaryDirectory(prefix="flywheel-grader-") as cwd:
            proc = await asyncio.create_subprocess_exec(
                *_unshare_prefix(),
                sys.executable,
                "-I",
                str(CHILD),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=cwd,
                env=SAFE_ENV,
                start_new_session=True,
                preexec_fn=lambda: _limits(memory_mb, cpu_s),
            )
            try:
                stdout, stderr = await asyncio.wait_for(proc.communicate(request), timeout_s + 1.0)
            except TimeoutError:
                _kill(proc)
                await proc.wait()
                raise SandboxError(f"timed out after {timeout_s:g} s") from None
            except BaseException:
                _kill(proc)
                await proc.wait()
                raise
    lines = stdout[-MAX_OUTPUT:].strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise SandboxError(_death(proc.returncode, stderr, memory_mb))
    try:
        answer = json.loads(lines[-1])
    except ValueError:
        raise SandboxError("the grader process wrote no answer") from None
    if not isinstance(answer, dict):
        raise SandboxError("the grader process wrote no answer")
    if "error" in answer:
        raise SandboxError(str(answer["error"]))
    score = answer.get("score")
    if not isinstance(score, float):
        raise SandboxError("the grader process wrote no score")
    return score


def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, 9)


def _death(code: int | None, stderr: bytes, memory_mb: int) -> str:
    tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
    if code is not None and code < 0:
        signal_no = -code
        if signal_no in (9, 24):  # SIGKILL / SIGXCPU from the CPU limit
            return "the grader exceeded its CPU time limit"
        return f"the grader process died with signal {signal_no}"
    if "MemoryError" in tail[0]:
        return f"the grader exceeded its memory limit ({memory_mb} MB)"
    return f"the grader process failed (exit {code}): {tail[0][:500]}"


class SandboxError(Exception):
    """The grader failed, timed out, broke a limit or tried something the sandbox refuses."""


class PythonGraderRunner:
    async def grade(
        self, spec: PythonGrader, sample: Sample, item: Mapping[str, Any], ctx: GradeContext
    ) -> GradeResult:
        try:
            source = grader_source(spec, ctx.spec_dir)
        except OSError as exc:
            return GradeResult.failure(f"python grader file: {exc}")
        try:
            score = await run_grader(source, sample.context(), item, timeout_s=spec.timeout_s, memory_mb=spec.memory_mb)
        except SandboxError as exc:
            return GradeResult.failure(f"python grader: {exc}")
        threshold = spec.pass_threshold if spec.pass_threshold is not None else 1.0
        return GradeResult(score, score >= threshold)
