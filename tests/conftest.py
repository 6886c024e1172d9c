"""Shared fixtures: copies of the fixture spec repos in tests/fixtures/, run from a temporary folder."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent


def json_object(text: str) -> dict[str, Any]:
    """`text` parsed as a JSON object (a test fails if it is anything else)."""
    data = json.loads(text)
    assert isinstance(data, dict), data
    return data


def git(repo: Path, *args: str) -> str:
    """Run git in `repo`; return its stdout (a failing command fails the test)."""
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def copy_fixture(name: str, dest: Path, base_url: str, spec: str) -> Path:
    """Copy tests/fixtures/<name> to `dest`, pointing the `BASE_URL` placeholder of `spec` at a fake server."""
    shutil.copytree(FIXTURES / name, dest)
    path = dest / spec
    path.write_text(path.read_text().replace("BASE_URL", base_url))
    return dest


@pytest.fixture
def mini_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of tests/fixtures/mini as the working directory."""
    dest = tmp_path / "repo"
    shutil.copytree(FIXTURES / "mini", dest)
    monkeypatch.chdir(dest)
    return dest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-openai", action="store_true", help="run tests marked `openai` (needs OPENAI_API_KEY)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `openai` spend real money: they run only with --run-openai and a key."""
    import os  # noqa: PLC0415

    if config.getoption("--run-openai") and os.environ.get("OPENAI_API_KEY"):
        return
    skip = pytest.mark.skip(reason="talks to the real OpenAI API: pass --run-openai with OPENAI_API_KEY set")
    for item in items:
        if item.get_closest_marker("openai") is not None:
            item.add_marker(skip)
