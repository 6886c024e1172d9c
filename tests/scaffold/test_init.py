"""`flywheel init`: a runnable starter project, written without ever overwriting a file, and idempotent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.cli import main
from runner.testing.fake_openai import FakeOpenAI
from tests.conftest import REPO

CREATED = [
    "created specs/models.yaml",
    "created specs/README.md",
    "created specs/triage/tickets.jsonl",
    "created specs/triage/triage.yaml",
    "created .github/workflows/flywheel-pr.yml",
    "created .github/workflows/flywheel-main.yml",
]


@pytest.fixture
def empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = tmp_path / "app"
    project.mkdir()
    monkeypatch.chdir(project)
    return project


def test_init_writes_a_project_that_validates(empty: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        *CREATED,
        "created .gitignore",
        "next: flywheel validate && flywheel run triage",
    ]
    assert (empty / ".gitignore").read_text() == ".flywheel/\n"
    assert "provider: local" in (empty / "specs/models.yaml").read_text()
    assert main(["validate"]) == 0
    assert (
        capsys.readouterr().out == "ok: 1 Model, 1 Prompt, 1 Dataset, 1 Grader, 1 Eval in 2 files; 12 dataset items\n"
    )


def test_init_twice_changes_nothing(empty: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (empty / ".gitignore").write_text("node_modules/")  # no trailing newline
    assert main(["init"]) == 0
    assert capsys.readouterr().out.splitlines()[-2] == "added .flywheel/ to .gitignore"
    assert (empty / ".gitignore").read_text() == "node_modules/\n.flywheel/\n"
    before = {p: p.read_bytes() for p in empty.rglob("*") if p.is_file()}
    assert main(["init"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        *(line.replace("created", "unchanged") for line in CREATED),
        "unchanged .gitignore",
        "nothing to do: this project is already initialised",
    ]
    assert {p: p.read_bytes() for p in empty.rglob("*") if p.is_file()} == before


def test_init_refuses_to_overwrite_and_writes_nothing(empty: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (empty / "specs").mkdir()
    (empty / "specs/models.yaml").write_text("# mine\n")
    (empty / ".github/workflows").mkdir(parents=True)
    (empty / ".github/workflows/flywheel-pr.yml").write_text("name: mine\n")
    assert main(["init", "--provider", "openai"]) == 1
    assert capsys.readouterr().err == (
        "error: flywheel init would overwrite specs/models.yaml, .github/workflows/flywheel-pr.yml; nothing was "
        "written. Move or delete them first, or run init in another folder\n"
    )
    assert sorted(str(p.relative_to(empty)) for p in empty.rglob("*") if p.is_file()) == [
        ".github/workflows/flywheel-pr.yml",
        "specs/models.yaml",
    ]
    assert (empty / "specs/models.yaml").read_text() == "# mine\n"


def test_unknown_example_is_a_clean_error(empty: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--example", "chess"]) == 1
    assert capsys.readouterr().err == "error: unknown example 'chess'; choose one of: triage\n"
    assert list(empty.iterdir()) == []


def _label(body: dict[str, Any]) -> str:
    """A fake model that routes on keywords (and gets 'other' tickets wrong on purpose)."""
    text = str(body["messages"][-1]["content"]).lower()
    for label, words in (("billing", ("charge", "refund", "vat", "card")), ("shipping", ("parcel", "ship", "order"))):
        if any(w in text for w in words):
            return label
    return "technical"


def test_openai_example_runs_from_a_subfolder_on_an_openai_compatible_endpoint(
    empty: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--provider", "openai", "--action", "acme/flywheel@v2"]) == 0
    assert "uses: acme/flywheel@v2\n" in (empty / ".github/workflows/flywheel-pr.yml").read_text()
    with FakeOpenAI(responder=_label) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.chdir(empty / "specs" / "triage")
        capsys.readouterr()
        assert main(["run", "triage", "--json"]) == 0
        assert fake.served == 12
    result = json.loads((empty / ".flywheel/results/triage/app-model.json").read_text())
    items = {i["id"]: i for i in result["items"]}
    tickets = [json.loads(line) for line in (empty / "specs/triage/tickets.jsonl").read_text().splitlines()]
    for t in tickets:
        expected = 1.0 if _label({"messages": [{"content": "Ticket: " + t["message"]}]}) == t["label"] else 0.0
        assert items[t["id"]]["scores"]["accuracy"]["score"] == expected, t["id"]
    assert result["metrics"]["accuracy"]["value"] == pytest.approx(
        sum(_label({"messages": [{"content": t["message"]}]}) == t["label"] for t in tickets) / 12
    )


def test_workflows_match_this_repositorys_own(empty: Path) -> None:
    assert main(["init"]) == 0
    ours = yaml.safe_load((empty / ".github/workflows/flywheel-pr.yml").read_text())
    repo = yaml.safe_load((REPO / ".github/workflows/pr-evals.yml").read_text())
    ours["jobs"]["gate"]["steps"][1]["uses"] = "./"
    assert ours["jobs"] == repo["jobs"]
    assert ours[True] == repo[True]  # the `on:` triggers (PyYAML reads the key `on` as True)
    main_wf = yaml.safe_load((empty / ".github/workflows/flywheel-main.yml").read_text())
    repo_main = yaml.safe_load((REPO / ".github/workflows/continuous-eval.yml").read_text())
    main_wf["jobs"]["baselines"]["steps"][1]["uses"] = "./"
    del repo_main["jobs"]["baselines"]["if"]
    assert main_wf["jobs"]["baselines"] == repo_main["jobs"]["baselines"]


def test_workflows_pass_actionlint(empty: Path) -> None:
    assert main(["init"]) == 0
    bin_dir = Path(sys.executable).parent
    proc = subprocess.run(
        [
            str(bin_dir / "actionlint"),
            "-shellcheck",
            str(bin_dir / "shellcheck"),
            ".github/workflows/flywheel-pr.yml",
            ".github/workflows/flywheel-main.yml",
        ],
        cwd=empty,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
