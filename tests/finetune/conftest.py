"""Shared fixtures of the fine-tuning tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES


@pytest.fixture
def ft_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of tests/fixtures/finetune as the working directory."""
    dest = tmp_path / "repo"
    shutil.copytree(FIXTURES / "finetune", dest)
    monkeypatch.chdir(dest)
    return dest
