"""Every git call Flywheel makes, in one place: a runner with a timeout whose errors carry git's own message, and
the few questions the rest of the code asks (what a ref is, what a file was on it, the tree of a ref, whether
the working tree is dirty). Content from a ref is data: nothing read here is executed."""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from runner.errors import FlywheelError

TIMEOUT_S = 60.0
ARCHIVE_TIMEOUT_S = 120.0


class GitError(FlywheelError):
    """A git command failed (unknown ref, not a repository, git missing)."""


def _run(root: Path, args: Sequence[str], timeout: float) -> bytes:
    try:
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(f"git {' '.join(args)}: {exc}") from None
    if proc.returncode != 0:
        raise GitError(f"git {' '.join(args)}: {proc.stderr.decode(errors='replace').strip() or 'failed'}")
    return proc.stdout


def git(root: Path, *args: str) -> str:
    """Run git in `root` and return its output as text; raise GitError with git's message on failure."""
    return _run(root, args, TIMEOUT_S).decode("utf-8", errors="replace")


def resolve_commit(root: Path, ref: str) -> str:
    """The commit sha `ref` (a branch, tag, sha, or `origin/main`) names; GitError when it names none."""
    return git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()


def exists_at(root: Path, ref: str, rel: str) -> bool:
    """Whether the path `rel` exists on `ref`."""
    return bool(git(root, "ls-tree", "--name-only", ref, "--", rel).strip())


def show(root: Path, ref: str, rel: str) -> str:
    """The text of file `rel` as it is on `ref`."""
    return git(root, "show", f"{ref}:{rel}")


def extract(root: Path, ref: str, rel_paths: Sequence[str], dest: Path) -> None:
    """Write `rel_paths` as they are on `ref` under `dest` (`git archive`; tar members filtered as data)."""
    tar_bytes = _run(root, ["archive", "--format=tar", ref, "--", *rel_paths], ARCHIVE_TIMEOUT_S)
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        tar.extractall(dest, filter="data")


@dataclass(frozen=True)
class GitState:
    """The working tree's commit and whether tracked files differ from it; None where git cannot tell."""

    commit: str | None
    dirty: bool | None


def state(root: Path) -> GitState:
    """The commit and dirty flag of the repository at `root`; never raises (provenance is best effort)."""
    try:
        commit: str | None = git(root, "rev-parse", "HEAD").strip()
    except GitError:
        commit = None
    try:
        dirty: bool | None = bool(git(root, "status", "--porcelain", "--untracked-files=no").strip())
    except GitError:
        dirty = None
    return GitState(commit, dirty)
