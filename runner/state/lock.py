"""An exclusive lock on the state folder, like Terraform's: a second apply waits or fails clearly, and
`flywheel force-unlock ID` frees a lock whose holder hangs.

The kernel decides who holds it: `fcntl.flock` on `state.lock`, released by the kernel when its holder exits,
however it exits. The file's content (the holder's id, pid, host, start time) only describes the holder for
messages and `force-unlock`; an empty or stale file never blocks anyone. The holder unlinks the file before it
lets go, so a process that opened the old file re-checks, after locking, that it still locked the file at the
path; without that check two processes could each hold a lock on a different inode.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from runner.errors import FlywheelError

LOCK_FILE = "state.lock"
_POLL_S = 0.05


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


def _parse(raw: bytes) -> LockInfo | None:
    """The holder described by a lock file's bytes; None when empty or unreadable (being written, or junk)."""
    try:
        data: Any = json.loads(raw.decode("utf-8"))
        return LockInfo(
            str(data["id"]), int(data["pid"]), str(data["host"]), float(data["created"]), str(data["operation"])
        )
    except (ValueError, KeyError, TypeError):
        return None


def _read(path: Path) -> LockInfo | None:
    try:
        return _parse(path.read_bytes())
    except (FileNotFoundError, IsADirectoryError):
        return None


def _open(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FlywheelError(f"{path}: the state lock is a symbolic link; remove it and run again") from None
        raise


def _is_current(path: Path, fd: int) -> bool:
    """Whether `fd` is still the file at `path` (not unlinked or replaced since it was opened)."""
    try:
        at_path = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (at_path.st_dev, at_path.st_ino) == (held.st_dev, held.st_ino)


def _try_lock(path: Path) -> int | None:
    """An fd holding the exclusive lock on the file now at `path`, or None when another process holds it."""
    while True:
        fd = _open(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        if _is_current(path, fd):
            return fd
        os.close(fd)  # the holder released (unlinked) it while we waited: lock the new file instead


def _unlink_and_close(path: Path, fd: int) -> None:
    """Release a held lock: unlink the file first (only if it is still ours), then let the kernel lock go."""
    try:
        if _is_current(path, fd):
            path.unlink(missing_ok=True)
    finally:
        os.close(fd)


class StateLock:
    """Context manager holding the lock of `state_dir` for one operation."""

    def __init__(self, state_dir: Path, operation: str, timeout_s: float = 0.0) -> None:
        self.path = state_dir / LOCK_FILE
        self.operation = operation
        self.timeout_s = timeout_s
        self.info: LockInfo | None = None
        self._fd: int | None = None

    def acquire(self) -> LockInfo:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.timeout_s
        while (fd := _try_lock(self.path)) is None:
            if time.monotonic() >= deadline:
                holder = _read(self.path)
                who = holder.describe() if holder else "another process"
                lock_id = holder.id if holder else "ID"
                raise LockedError(
                    f"the state is locked by {who}; wait for it to finish (--lock-timeout SECONDS) or, if it "
                    f"hangs, run: flywheel force-unlock {lock_id}"
                )
            time.sleep(_POLL_S)
        info = LockInfo(uuid.uuid4().hex[:12], os.getpid(), socket.gethostname(), time.time(), self.operation)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(asdict(info)).encode("utf-8"), 0)
        except BaseException:
            _unlink_and_close(self.path, fd)
            raise
        self._fd, self.info = fd, info
        return info

    def release(self) -> None:
        fd, self._fd, self.info = self._fd, None, None
        if fd is not None:
            _unlink_and_close(self.path, fd)

    def __enter__(self) -> LockInfo:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass(frozen=True)
class Unlocked:
    """What `force_unlock` removed: the holder's description, and whether its process still held the lock."""

    holder: LockInfo
    was_held: bool


def force_unlock(state_dir: Path, lock_id: str) -> Unlocked:
    """Remove the lock if its id is `lock_id`; raise otherwise.

    A holder that still runs keeps its kernel lock on the unlinked file, but no longer excludes anyone: the next
    apply locks a new file. That is what `force` means, and why the id must be given."""
    path = state_dir / LOCK_FILE
    holder = _read(path)
    if holder is None:
        raise FlywheelError(f"{path}: the state is not locked; nothing to unlock")
    if holder.id != lock_id:
        raise FlywheelError(f"lock id mismatch: the state is locked by {holder.describe()}, not '{lock_id}'")
    fd = _try_lock(path)
    if fd is not None:  # nobody holds it: only a stale description was left
        _unlink_and_close(path, fd)
        return Unlocked(holder, was_held=False)
    if _read(path) == holder:  # still the same holder (not released and re-taken meanwhile)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return Unlocked(holder, was_held=True)
