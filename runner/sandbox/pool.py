"""Pools of sandbox workers, one pool per grader (source, folder and limits): a worker is started and confined
once and then grades many samples. A worker whose grader raised, timed out, crashed or broke a limit is killed
and a fresh one takes its place on the next call, so one bad sample cannot leave state for the next.

Calls block (they wait on a pipe); `runner.graders.python` runs them in threads. Pools live for the process:
`shutdown()` (also registered with `atexit`) kills every worker, and each worker dies with Flywheel anyway.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections import OrderedDict
from typing import Any

from runner.sandbox.worker import Config, SandboxError, Worker

MAX_POOLS = 8
"""Pools kept at once; the least recently used one is shut down beyond this."""
MAX_USES = 1000
"""Requests a worker serves before it is replaced (bounds what a grader can accumulate)."""


class Pool:
    """Up to `size` workers for one grader configuration."""

    def __init__(self, config: Config, size: int) -> None:
        self.config = config
        self.size = size
        self._idle: list[Worker] = []
        self._busy = 0
        self._cond = threading.Condition()
        self._closed = False
        self.started: list[int] = []
        """Pids of every worker this pool started (tests check none of their groups survives)."""
        self.confinement: dict[str, Any] = {}
        """The confinement the last started worker reported."""

    def grade(self, sample: Any, item: Any) -> float:
        """Grade one sample on an idle worker (starting one when none is idle); raise SandboxError."""
        worker = self._acquire()
        ok = False
        try:
            score = worker.grade(sample, item)
            ok = True
            return score
        finally:
            self._release(worker, ok)

    def _acquire(self) -> Worker:
        with self._cond:
            while not self._idle and self._busy >= self.size:
                self._cond.wait()
            if self._closed:
                raise SandboxError("the grader pool was shut down")
            self._busy += 1
            worker = self._idle.pop() if self._idle else None
        if worker is not None:
            return worker
        try:
            worker = Worker(self.config, self._started)
        except BaseException:
            with self._cond:
                self._busy -= 1
                self._cond.notify()
            raise
        with self._cond:
            self.confinement = worker.confinement
        return worker

    def _started(self, pid: int) -> None:
        with self._cond:
            self.started.append(pid)

    def _release(self, worker: Worker, ok: bool) -> None:
        keep = ok and worker.alive() and worker.uses < MAX_USES
        if not keep:
            worker.kill()
        with self._cond:
            self._busy -= 1
            if keep and not self._closed:
                self._idle.append(worker)
            elif keep:
                worker.kill()
            self._cond.notify()

    def close(self) -> None:
        """Kill every idle worker; busy ones are killed when they come back."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for worker in idle:
            worker.kill()


_pools: OrderedDict[Config, Pool] = OrderedDict()
_lock = threading.Lock()


def pool_for(config: Config) -> Pool:
    """The pool for `config`, created on first use; at most MAX_POOLS are kept."""
    with _lock:
        pool = _pools.pop(config, None)
        if pool is None:
            pool = Pool(config, max(1, os.cpu_count() or 1))
        _pools[config] = pool
        evicted = [_pools.popitem(last=False)[1] for _ in range(len(_pools) - MAX_POOLS)]
    for old in evicted:
        old.close()
    return pool


def shutdown() -> None:
    """Kill every worker of every pool."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()


atexit.register(shutdown)
