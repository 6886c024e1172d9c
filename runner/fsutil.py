"""Atomic file writes, the only way Flywheel replaces a file: a temp file beside it, fsync, rename, fsync the folder.

A reader sees the old file or the new one, never half of one, and a crash after the rename cannot lose it (the
folder's entry is synced too). A replaced file keeps its mode; a new one gets the mode any other tool would give
it (0666 less the umask), not a temp file's 0600.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO


def _create_temp(path: Path) -> tuple[int, Path]:
    """A new, empty temp file beside `path`, with the mode `path` has (or would get if created plainly)."""
    try:
        mode: int | None = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
        except FileExistsError:
            continue
        if mode is not None:
            os.fchmod(fd, mode)  # os.open's mode went through the umask; the old file's mode must not
        return fd, tmp


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable. Filesystems that cannot sync a folder (some network ones) are skipped."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except PermissionError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_binary(path: Path) -> Iterator[BinaryIO]:
    """Write `path` through the yielded file; it replaces `path` only if the block ends without an exception.
    The folder must exist. Writes stream, so memory stays flat however large the file."""
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_text(path: Path) -> Iterator[TextIO]:
    """`atomic_binary` for UTF-8 text (newlines written as given)."""
    with atomic_binary(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        try:
            yield text
        except BaseException:
            with contextlib.suppress(Exception):
                text.detach()
            raise
        text.detach()  # flushes; atomic_binary then syncs, closes and renames the binary file


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically; the folder must exist."""
    with atomic_binary(path) as fh:
        fh.write(data)


def atomic_copy(src: Path, dest: Path) -> None:
    """Copy `src` over `dest` atomically (streamed)."""
    with src.open("rb") as source, atomic_binary(dest) as fh:
        shutil.copyfileobj(source, fh)
