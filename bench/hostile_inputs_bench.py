"""Hostile-input benchmark: `python -m bench.hostile_inputs_bench` (see bench/README.md).

Runs `flywheel validate` in a fresh process on a copy of tests/fixtures/mini broken by one hostile input at a
time and prints wall time and peak memory (RSS) against the targets: a located error (exit 1) in under 1 s of
validation over the clean baseline and under 100 MB above it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "mini"
SHOWN = (
    "billion-laughs",
    "laughs-mappings",
    "recursive-sequence",
    "flow-nesting-20000",
    "block-nesting-1000",
    "int-5000-digits",
    "spec-50-mb-line",
    "template-mul-3e9",
    "template-nested-loop-1e10",
    "formula-unary-chain",
    "python-unary-chain",
    "jsonl-nesting-100000",
    "jsonl-50-mb-line",
)


def _validate(repo: Path) -> tuple[int, float, int]:
    """(exit code, wall seconds, peak RSS bytes) of `flywheel validate specs` in `repo`, a fresh process."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.chdir(repo)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execv(sys.executable, [sys.executable, "-c", "from runner.cli import entry; entry()", "validate", "specs"])
    _, status, usage = os.wait4(pid, 0)
    return os.waitstatus_to_exitcode(status), time.perf_counter() - start, usage.ru_maxrss * 1024


def _repo(repo: Path, edits: list[tuple[str, str | None, str | bytes]]) -> Path:
    shutil.copytree(FIXTURE, repo)
    (repo / ".git").mkdir()
    for file, old, new in edits:
        path = repo / file
        data = new.encode() if isinstance(new, str) else new
        if old is not None:
            data = path.read_bytes().replace(old.encode(), data, 1)
        path.write_bytes(data)
    return repo


def build(tmp: Path) -> None:
    """Write one repository per case (run in its own process: the corpus holds 50 MB strings, and a child's peak
    memory starts at its parent's when it forks)."""
    from tests.specs.hostile_inputs import CASES  # noqa: PLC0415

    cases = {c[0]: c[1] for c in CASES}
    _repo(tmp / "clean", [])
    for name in SHOWN:
        _repo(tmp / name, cases[name])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        builder = f"from bench.hostile_inputs_bench import build; from pathlib import Path; build(Path({tmp_name!r}))"
        subprocess.run([sys.executable, "-c", builder], check=True)
        code, base_s, base_rss = _validate(tmp / "clean")
        assert code == 0, "the clean fixture must validate"
        print(f"{'clean fixture':28s} exit {code}  {base_s:6.2f} s  {base_rss / 2**20:7.1f} MB")
        for name in SHOWN:
            code, wall, rss = _validate(tmp / name)
            extra_s, extra_mb = wall - base_s, (rss - base_rss) / 2**20
            ok = code == 1 and extra_s < 1.0 and extra_mb < 100
            print(
                f"{name:28s} exit {code}  {wall:6.2f} s  {rss / 2**20:7.1f} MB"
                f"  (+{extra_s:5.2f} s, +{extra_mb:6.1f} MB over clean: {'ok' if ok else 'OVER TARGET'})"
            )


if __name__ == "__main__":
    main()
