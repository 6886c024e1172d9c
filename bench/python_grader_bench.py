"""Python grader benchmark: `python -m bench.python_grader_bench` (see bench/README.md).

CPU per graded sample (Flywheel's process plus its grader processes), for the same grader and samples:
  per-process  one confined worker started for each sample, as before the pool (start, confine, grade, kill);
  pool         `flywheel`'s python grader: a pool of confined workers, each grading many samples.
Prints both and their ratio (target: the pool under 1 ms of CPU per sample, a ratio under 0.05).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import TypeAdapter

from runner.graders.base import GradeContext, Sample
from runner.graders.python import PythonGraderRunner, worker_config
from runner.sandbox import pool
from runner.sandbox.worker import Worker
from runner.specs.grader import GraderSpec, PythonGrader

SOURCE = """import re

def grade(sample, item):
    words = re.findall(r"\\w+", sample["output_text"].lower())
    return 1.0 if item["answer"] in words else 0.0
"""


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _measure(n: int, body: Callable[[int], None]) -> tuple[float, float]:
    """(CPU seconds per sample, wall seconds per sample) of `body(n)`, children reaped inside it."""
    cpu, wall = _cpu(), time.perf_counter()
    body(n)
    return (_cpu() - cpu) / n, (time.perf_counter() - wall) / n


def per_process(n: int, folder: Path) -> None:
    config = worker_config(SOURCE, folder, timeout_s=10, memory_mb=512)
    for i in range(n):
        worker = Worker(config)
        try:
            worker.grade({"output_text": f"the answer is w{i}"}, {"answer": f"w{i}"})
        finally:
            worker.kill()


def pooled(n: int, folder: Path) -> None:
    spec = TypeAdapter(GraderSpec).validate_python({"type": "python", "source": SOURCE})
    assert isinstance(spec, PythonGrader)
    runner = PythonGraderRunner()

    async def go() -> None:
        ctx = GradeContext(judge=None, spec_dir=folder)  # type: ignore[arg-type]  # python graders call no judge
        for i in range(n):
            result = await runner.grade(spec, Sample(f"the answer is w{i}"), {"answer": f"w{i}"}, ctx)
            assert result.error is None and result.score == 1.0, result

    asyncio.run(go())
    pool.shutdown()  # reap the workers so their CPU is counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=int, default=40, help="samples graded one process each (default 40)")
    parser.add_argument("--new", type=int, default=2000, help="samples graded by the pool (default 2000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        old_cpu, old_wall = _measure(args.old, lambda n: per_process(n, folder))
        new_cpu, new_wall = _measure(args.new, lambda n: pooled(n, folder))
    print(f"per-process: {old_cpu * 1000:8.2f} ms CPU/sample  {old_wall * 1000:8.2f} ms wall/sample  (n={args.old})")
    print(f"pool:        {new_cpu * 1000:8.2f} ms CPU/sample  {new_wall * 1000:8.2f} ms wall/sample  (n={args.new})")
    print(f"ratio (pool / per-process): CPU {new_cpu / old_cpu:.3f}  wall {new_wall / old_wall:.3f}")


if __name__ == "__main__":
    main()
