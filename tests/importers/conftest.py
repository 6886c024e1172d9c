"""Importer fixtures: a project made by `flywheel init --provider openai`, run against the fake OpenAI server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.cli import main


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Path]:
    """An initialised project (Model `app-model` on the OpenAI API) as the working directory."""
    root = tmp_path / "app"
    root.mkdir()
    monkeypatch.chdir(root)
    assert main(["init", "--provider", "openai"]) == 0
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    capsys.readouterr()
    yield root


def result_items(project: Path, eval_name: str, model: str = "app-model") -> dict[str, dict[str, Any]]:
    """The per-item records of the latest result of (eval, model), by item id."""
    doc = json.loads((project / ".flywheel" / "results" / eval_name / f"{model}.json").read_text())
    return {i["id"]: i for i in doc["items"]}


def dataset_rows(path: Path) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in map(json.loads, path.read_text().splitlines())}
