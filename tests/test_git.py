"""The one git module: refs resolved, files read as they are on a ref, trees extracted as data, the working
tree's state, and git's own message in every error."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.git import GitError, GitState, exists_at, extract, git, resolve_commit, show, state
from tests.conftest import git as run_git


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    run_git(root, "init", "-q", "-b", "main")
    run_git(root, "config", "user.email", "t@example.com")
    run_git(root, "config", "user.name", "t")
    (root / "specs").mkdir()
    (root / "specs" / "a.yaml").write_text("old\n")
    run_git(root, "add", ".")
    run_git(root, "commit", "-qm", "one")
    return root


def test_refs_files_and_trees_as_they_are_on_a_ref(repo: Path, tmp_path: Path) -> None:
    first = resolve_commit(repo, "main")
    (repo / "specs" / "a.yaml").write_text("new\n")
    (repo / "specs" / "b.yaml").write_text("b\n")
    run_git(repo, "add", ".")
    run_git(repo, "commit", "-qm", "two")
    assert len(first) == 40 and resolve_commit(repo, "main") != first
    assert show(repo, first, "specs/a.yaml") == "old\n"
    assert (exists_at(repo, first, "specs/b.yaml"), exists_at(repo, "main", "specs/b.yaml")) == (False, True)
    dest = tmp_path / "base"
    dest.mkdir()
    extract(repo, first, ["specs"], dest)
    assert sorted(p.name for p in (dest / "specs").iterdir()) == ["a.yaml"]
    assert (dest / "specs" / "a.yaml").read_text() == "old\n"


def test_the_working_trees_state(repo: Path, tmp_path: Path) -> None:
    commit = resolve_commit(repo, "HEAD")
    assert state(repo) == GitState(commit, False)
    (repo / "specs" / "untracked.yaml").write_text("x")
    assert state(repo).dirty is False  # untracked files do not count
    (repo / "specs" / "a.yaml").write_text("edited\n")
    assert state(repo) == GitState(commit, True)
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    assert state(outside) == GitState(None, None)


def test_errors_carry_gits_message(repo: Path) -> None:
    with pytest.raises(GitError) as err:
        resolve_commit(repo, "no-such-branch")
    assert str(err.value).startswith("git rev-parse --verify --quiet no-such-branch^{commit}: ")
    with pytest.raises(GitError) as err:
        git(repo, "show", "main:specs/missing.yaml")
    assert "specs/missing.yaml" in str(err.value)
