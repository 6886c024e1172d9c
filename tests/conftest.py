"""Shared fixtures: copies of the fixture spec repos in tests/fixtures/, run from a temporary folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent


@pytest.fixture
def mini_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of tests/fixtures/mini as the working directory."""
    dest = tmp_path / "repo"
    shutil.copytree(FIXTURES / "mini", dest)
    monkeypatch.chdir(dest)
    return dest
