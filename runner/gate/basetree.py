"""The base side of a gate: the specs and baselines as they are on a git ref, materialised in a temp folder
with `git archive` (never read from the working tree, which the pull request controls)."""

from __future__ import annotations

import io
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

from runner.baselines.ledger import FOLDER
from runner.baselines.store import GitError, git
from runner.errors import UsageError


def resolve_ref(root: Path, ref: str) -> str:
    """The commit sha of `ref` (a branch, tag, sha, or `origin/main`)."""
    try:
        return git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
    except GitError:
        raise UsageError(
            f"--base {ref}: no such commit or branch here; fetch it first (git fetch origin {ref})"
        ) from None


def materialise(root: Path, ref: str, rel_paths: Sequence[str]) -> Path:
    """Extract `rel_paths` (those that exist on `ref`) into a new temp folder; return the folder."""
    present = [p for p in rel_paths if git(root, "ls-tree", "--name-only", ref, "--", p).strip()]
    dest = Path(tempfile.mkdtemp(prefix="flywheel-base-"))
    if not present:
        return dest
    import subprocess  # noqa: PLC0415 - bytes output; git() is for text

    proc = subprocess.run(
        ["git", "archive", "--format=tar", ref, "--", *present],
        cwd=root,
        capture_output=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise GitError(f"git archive {ref}: {proc.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def base_paths(spec_rel: Sequence[str]) -> list[str]:
    """What the base tree needs: the spec folders and the baselines."""
    return [*spec_rel, FOLDER]
