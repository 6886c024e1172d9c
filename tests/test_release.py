"""Releases: the version lives in runner/__init__.py only, the changelog has a section for it, and the action
installs the version of its own tag."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import tomllib
from pathlib import Path

from runner import __version__
from runner.scaffold import ACTION_REF
from tests.conftest import REPO


def test_the_version_is_set_in_one_place() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "version" not in project and project["dynamic"] == ["version"]
    assert importlib.metadata.version("flywheel-evals") == __version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    assert ACTION_REF.endswith(f"@v{__version__.split('.')[0]}")  # init's workflows use the moving major tag


def test_the_changelog_has_a_section_for_this_version() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert re.search(rf"^## \[{re.escape(__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.MULTILINE)
    assert "## [Unreleased]" in changelog


def _install_auto(tmp_path: Path, version_line: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    fake = bin_dir / "flywheel"
    fake.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "INSTALL": "auto", "PYTHON": "false", "RUNNER_TEMP": str(tmp_path)}
    return subprocess.run(
        ["bash", str(REPO / "scripts/ci/install.sh")], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_action_uses_a_flywheel_on_path_only_when_it_is_its_own_version(tmp_path: Path) -> None:
    same = _install_auto(tmp_path / "same", f"flywheel {__version__}")
    assert same.returncode == 0
    assert same.stdout == f"using {tmp_path}/same/bin/flywheel (flywheel {__version__})\n"
    other = _install_auto(tmp_path / "other", "flywheel 0.0.9")
    assert other.stdout.splitlines()[0] == (
        f"{tmp_path}/other/bin/flywheel is flywheel 0.0.9, not this action's flywheel {__version__}; "
        f"installing flywheel {__version__}"
    )
    assert other.returncode != 0  # it went on to install (PYTHON=false stops it at the venv)
