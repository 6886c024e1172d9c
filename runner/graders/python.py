"""`python` graders: `grade(sample, item) -> float` from a pull request is hostile code. It runs in a pool of
sandbox workers (`runner.sandbox`), never in Flywheel's own process, confined by the kernel:

- seccomp-bpf allows only what pure Python needs: no exec, no new processes, no sockets, no signals to other
  processes, no ptrace, no creating or changing files, files opened read-only;
- Landlock limits reads to the grader's folder, the Python installation and the system's shared libraries (so
  not `/proc` of Flywheel, not the rest of the repository, not `$HOME`), writes to nothing;
- rlimits (address space `memory_mb`, CPU, no file writes, 64 open files), its own session and process group
  (killed as a group), an empty environment, an empty working folder, an empty network namespace where user
  namespaces are available, and output read incrementally and capped at 1 MiB per sample;
- an audit hook refusing the same operations, kept only as defence in depth (PEP 578 hooks are not a sandbox).

Fail closed: where seccomp cannot be installed, python graders are refused (a graded error saying so) unless the
user opts in with `--unsafe-python-graders` or FLYWHEEL_UNSAFE_PYTHON_GRADERS=1. Without Landlock they run with
reads unconfined, and the run says so. docs/security.md has the whole picture.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

from runner.graders.base import GradeContext, GradeResult, Sample
from runner.sandbox.pool import pool_for
from runner.sandbox.worker import Config, Refused, SandboxError
from runner.specs.grader import PythonGrader

UNSAFE_ENV = "FLYWHEEL_UNSAFE_PYTHON_GRADERS"
SYSTEM_READS = (
    "/lib",
    "/lib64",
    "/usr/lib",
    "/usr/lib64",
    "/usr/local/lib",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/usr/share/zoneinfo",
)
"""Shared libraries that standard-library extension modules load, and time zone data."""

_settings: dict[str, Any] = {"unsafe": False, "simulate_missing": ()}
_threads = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1), thread_name_prefix="flywheel-grader")
"""Threads that wait on the workers. They live as long as Flywheel: a worker dies with the thread that started
it (PR_SET_PDEATHSIG), so it must not be a thread that an event loop's shutdown ends."""
notes: set[str] = set()
"""What did not apply on this host (e.g. 'reads are not confined: ...'); the run prints them."""


def allow_unsafe(allowed: bool = True) -> None:
    """Let python graders run where seccomp is unavailable (`--unsafe-python-graders`)."""
    _settings["unsafe"] = allowed


def _unsafe() -> bool:
    return bool(_settings["unsafe"]) or os.environ.get(UNSAFE_ENV, "") not in ("", "0")


@cache
def _unshare_prefix() -> tuple[str, ...]:
    """`unshare` arguments that give the worker an empty network namespace, or () where that is not possible."""
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
    """Whether python graders also run in an empty network namespace (seccomp refuses sockets either way)."""
    return bool(_unshare_prefix())


@cache
def _python_path() -> tuple[str, ...]:
    """The worker's sys.path: this interpreter's own entries inside its installation (the standard library,
    its extension modules, site-packages), never the working folder or an editable checkout."""
    homes = tuple({os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix)})
    paths = (os.path.realpath(p) for p in sys.path if p and os.path.isdir(p))
    return tuple(dict.fromkeys(p for p in paths if any(p == h or p.startswith(h + os.sep) for h in homes)))


def grader_source(spec: PythonGrader, spec_dir: Path) -> str:
    """The grader's code: inline `source`, or the `file` relative to the spec's folder."""
    if spec.source is not None:
        return spec.source
    assert spec.file is not None  # the spec validator requires one of them
    return (spec_dir / spec.file).read_text(encoding="utf-8")


def worker_config(source: str, folder: Path, *, timeout_s: float, memory_mb: int) -> Config:
    """The sandbox configuration of one grader: what it may read, its limits, and this host's options."""
    return Config(
        source=source,
        read_paths=(str(folder.resolve()), *_python_path(), *SYSTEM_READS),
        timeout_s=timeout_s,
        memory_mb=memory_mb,
        cpu_s=max(60, math.ceil(timeout_s) * 10),
        unsafe=_unsafe(),
        simulate_missing=tuple(_settings["simulate_missing"]),
        prefix=_unshare_prefix(),
        sys_path=_python_path(),
    )


async def run_grader(config: Config, sample: Mapping[str, Any], item: Mapping[str, Any]) -> float:
    """Run `grade(sample, item)` on a pooled worker; return its score or raise SandboxError."""
    pool = pool_for(config)
    score = await asyncio.get_running_loop().run_in_executor(_threads, pool.grade, dict(sample), dict(item))
    for note in pool.confinement.get("notes", ()):
        notes.add(str(note))
    return score


class PythonGraderRunner:
    async def grade(
        self, spec: PythonGrader, sample: Sample, item: Mapping[str, Any], ctx: GradeContext
    ) -> GradeResult:
        try:
            source = grader_source(spec, ctx.spec_dir)
        except (OSError, UnicodeDecodeError) as exc:
            return GradeResult.failure(f"python grader file: {exc}")
        folder = (ctx.spec_dir / spec.file).parent if spec.file is not None else ctx.spec_dir
        config = worker_config(source, folder, timeout_s=spec.timeout_s, memory_mb=spec.memory_mb)
        try:
            score = await run_grader(config, sample.context(), item)
        except Refused as exc:
            return GradeResult.failure(
                f"python grader refused: {exc}; python graders need seccomp (see docs/security.md), or pass "
                f"--unsafe-python-graders (or set {UNSAFE_ENV}=1) to run them without it"
            )
        except SandboxError as exc:
            return GradeResult.failure(f"python grader: {exc}")
        threshold = spec.pass_threshold if spec.pass_threshold is not None else 1.0
        return GradeResult(score, score >= threshold)
