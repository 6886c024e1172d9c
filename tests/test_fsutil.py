"""Atomic writes: all or nothing, the old file's mode kept, a new file's mode from the umask, the folder synced."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner import fsutil
from runner.fsutil import atomic_binary, atomic_copy, atomic_text, atomic_write_bytes, atomic_write_text


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_gets_the_umask_mode(tmp_path: Path, umask_022: None) -> None:
    atomic_write_text(tmp_path / "a.json", "{}\n")
    assert _mode(tmp_path / "a.json") == 0o644
    os.umask(0o077)
    atomic_write_bytes(tmp_path / "b.json", b"{}")
    assert _mode(tmp_path / "b.json") == 0o600


def test_a_replaced_file_keeps_its_mode(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "script.sh"
    path.write_text("old")
    path.chmod(0o750)
    atomic_write_text(path, "new")
    assert (path.read_text(), _mode(path)) == ("new", 0o750)
    path.chmod(0o604)
    atomic_write_text(path, "newer")
    assert (path.read_text(), _mode(path)) == ("newer", 0o604)


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), atomic_text(path) as fh:
        fh.write("half of the new")
        raise Boom
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_text_is_streamed_and_utf8_with_newlines_as_given(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    with atomic_text(path) as fh:
        for i in range(3):
            fh.write(f"é{i}\r\n")
    assert path.read_bytes() == "é0\r\né1\r\né2\r\n".encode()


def test_the_folder_is_synced_after_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[Path] = []
    real = fsutil.fsync_dir

    def record(folder: Path) -> None:
        assert (folder / "x").read_text() == "1"  # the rename happened before
        synced.append(folder)
        real(folder)

    monkeypatch.setattr(fsutil, "fsync_dir", record)
    atomic_write_text(tmp_path / "x", "1")
    assert synced == [tmp_path]


def test_a_symlink_is_replaced_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    link = tmp_path / "doc.json"
    link.symlink_to(target)
    with atomic_binary(link) as fh:
        fh.write(b"new")
    assert (target.read_text(), link.is_symlink(), link.read_text()) == ("keep", False, "new")


def test_atomic_copy(tmp_path: Path) -> None:
    src = tmp_path / "adapter.gguf"
    src.write_bytes(os.urandom(300_000))
    dest = tmp_path / "adapters" / "m.gguf"
    dest.parent.mkdir()
    atomic_copy(src, dest)
    assert dest.read_bytes() == src.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["m.gguf"]
