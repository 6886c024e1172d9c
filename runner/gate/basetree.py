"""The base side of a gate: the specs and baselines as they are on a git ref, materialised in a temp folder
with `git archive` (never read from the working tree, which the pull request controls)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from runner.baselines.ledger import FOLDER
from runner.errors import UsageError
from runner.git import GitError, exists_at, extract, git, resolve_commit


def resolve_ref(root: Path, ref: str, flag: str = "--base") -> str:
    """The commit sha of `ref` (a branch, tag, sha, or `origin/main`); `flag` names the option in errors."""
    try:
        return resolve_commit(root, ref)
    except GitError:
        raise UsageError(
            f"{flag} {ref}: no such commit or branch here; fetch it first (git fetch origin {ref})"
        ) from None


def materialise(root: Path, ref: str, rel_paths: Sequence[str]) -> Path:
    """Extract `rel_paths` (those that exist on `ref`) into a new temp folder; return the folder."""
    present = [p for p in rel_paths if exists_at(root, ref, p)]
    dest = Path(tempfile.mkdtemp(prefix="flywheel-base-"))
    if present:
        extract(root, ref, present, dest)
    return dest


def base_paths(spec_rel: Sequence[str]) -> list[str]:
    """What the base tree needs: the spec folders and the baselines."""
    return [*spec_rel, FOLDER]


EXECUTION_PATHS = (".github", "action.yml", "action.yaml", "scripts/ci")
"""Files that decide how the gate runs in a same-repo pull request (its own workflow runs them)."""


def execution_paths(root: Path) -> list[str]:
    """The workflow, the action and, when Flywheel itself is installed from this repository, the runner."""
    paths = list(EXECUTION_PATHS)
    package = Path(__file__).resolve().parent.parent
    if package.is_relative_to(root.resolve()):
        paths += [str(package.relative_to(root.resolve())), "pyproject.toml"]
    return paths


def changed_paths(root: Path, ref: str, paths: Sequence[str], head: str | None = None) -> list[str]:
    """Files under `paths` that differ between `ref` and commit `head`, or the working tree when `head` is None
    (untracked files included)."""
    if head is not None:
        return sorted(p for p in git(root, "diff", "--name-only", ref, head, "--", *paths).split("\n") if p)
    edited = git(root, "diff", "--name-only", ref, "--", *paths).split("\n")
    edited += git(root, "ls-files", "--others", "--exclude-standard", "--", *paths).split("\n")
    return sorted({p for p in edited if p})


def tracked(root: Path, folder: str, head: str | None = None) -> list[str]:
    """Files under `folder` that git tracks in commit `head` or the working tree (state a pull request may have
    forged)."""
    if head is not None:
        return sorted(p for p in git(root, "ls-tree", "-r", "--name-only", head, "--", folder).split("\n") if p)
    return sorted(p for p in git(root, "ls-files", "--", folder).split("\n") if p)


def head_commits(root: Path) -> set[str]:
    """The commit under test: HEAD, and its second parent when HEAD is GitHub's merge commit of a PR."""
    lines = git(root, "rev-list", "--parents", "-n", "1", "HEAD").split()
    return {lines[0], *(lines[2:3] if len(lines) == 3 else [])}
