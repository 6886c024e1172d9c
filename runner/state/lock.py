"""An exclusive lock on the state folder, like Terraform's: created with O_EXCL, carrying an id; a second
apply waits or fails clearly; `flywheel force-unlock ID` removes a lock whose holder is gone.

A lock left by a killed process on this host (its pid no longer runs) is stale and is taken over, so a
re-run after `kill -9` completes without a manual unlock.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.errors import FlywheelError

LOCK_FILE = "state.lock"


class LockedError(FlywheelError):
    """Another apply holds the lock."""


@dataclass(frozen=True)
class LockInfo:
    """Who holds the lock."""

    id: str
    pid: int
    host: str
    created: float
    operation: str

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.created))
        return f"{self.operation} (pid {self.pid} on {self.host}, since {since}, lock id {self.id})"


def _read(path: Path) -> LockInfo | None:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return LockInfo(
            str(data["id"]), int(data["pid"]), str(data["host"]), float(data["created"]), str(data["operation"])
        )
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return LockInfo("unreadable", -1, "?", path.stat().st_mtime, "unknown")


def _alive(info: LockInfo) -> bool:
    if info.host != socket.gethostname() or info.pid <= 0:
        return True  # cannot tell for another host: assume it runs
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StateLock:
    """Context manager holding the lock of `state_dir` for one operation."""

    def __init__(self, state_dir: Path, operation: str, timeout_s: float = 0.0) -> None:
        self.path = state_dir / LOCK_FILE
        self.operation = operation
        self.timeout_s = timeout_s
        self.info: LockInfo | None = None

    def acquire(self) -> LockInfo:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.timeout_s
        while True:
            info = LockInfo(uuid.uuid4().hex[:12], os.getpid(), socket.gethostname(), time.time(), self.operation)
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _read(self.path)
                if holder is not None and not _alive(holder):
                    self.path.unlink(missing_ok=True)  # stale: its process is gone
                    continue
                if time.monotonic() >= deadline:
                    who = holder.describe() if holder else "another process"
                    lock_id = holder.id if holder else "ID"
                    raise LockedError(
                        f"the state is locked by {who}; wait for it to finish (--lock-timeout SECONDS) or, if it "
                        f"is gone, run: flywheel force-unlock {lock_id}"
                    ) from None
                time.sleep(0.2)
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(info.__dict__, fh)
            self.info = info
            return info

    def release(self) -> None:
        if self.info is not None and (holder := _read(self.path)) is not None and holder.id == self.info.id:
            self.path.unlink(missing_ok=True)
        self.info = None

    def __enter__(self) -> LockInfo:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def force_unlock(state_dir: Path, lock_id: str) -> LockInfo:
    """Remove the lock if its id is `lock_id`; raise otherwise."""
    path = state_dir / LOCK_FILE
    holder = _read(path)
    if holder is None:
        raise FlywheelError(f"{path}: the state is not locked; nothing to unlock")
    if holder.id != lock_id:
        raise FlywheelError(f"lock id mismatch: the state is locked by {holder.describe()}, not '{lock_id}'")
    path.unlink(missing_ok=True)
    return holder
