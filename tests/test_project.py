"""Commands find the project (the folder holding specs/) from any subfolder, the way git finds its top."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runner.cli import main
from tests.conftest import FIXTURES, git


def test_validate_from_a_subfolder_finds_the_project(mini_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (mini_repo / "specs" / "deep" / "er").mkdir(parents=True)
    for folder in (mini_repo / "specs", mini_repo / "specs" / "deep" / "er"):
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(folder)
            assert main(["validate"]) == 0
    assert capsys.readouterr().out == (
        "ok: 2 Model, 1 Prompt, 1 Dataset, 4 Grader, 1 Eval, 1 FineTune in 2 files; 6 dataset items\n" * 2
    )


def test_errors_from_a_subfolder_name_files_relative_to_it(
    mini_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (mini_repo / "specs/models.yaml").write_text("apiVersion: flywheel/v1\nkind: Model\n")
    (mini_repo / "sub").mkdir()
    monkeypatch.chdir(mini_repo / "sub")
    assert main(["validate"]) == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        "../specs/models.yaml:1:1: Model -> metadata: missing required field 'metadata'; add `metadata:`"
    )


def test_git_top_bounds_the_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(FIXTURES / "mini", tmp_path / "outer")
    inner = tmp_path / "outer" / "vendored"
    inner.mkdir()
    git(inner, "init", "-q")
    monkeypatch.chdir(inner)
    assert main(["validate"]) == 1
    assert capsys.readouterr().err == (
        "error: no specs/ folder here or in any parent folder; run `flywheel init` to create one, "
        "or pass the spec folder (--specs PATH)\n"
    )


def test_no_project_anywhere_says_how_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["plan"]) == 1
    assert capsys.readouterr().err == (
        "error: no specs/ folder here or in any parent folder; run `flywheel init` to create one, "
        "or pass the spec folder (--specs PATH)\n"
    )
