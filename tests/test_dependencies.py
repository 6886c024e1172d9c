"""Dependencies: every third-party module runner/ imports is declared, and CI pins every declared one."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

from tests.conftest import REPO


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")


def _declared() -> dict[str, list[str]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    groups = {"core": project["dependencies"], **project["optional-dependencies"]}
    return {group: [r for r in reqs if not r.startswith("flywheel-evals")] for group, reqs in groups.items()}


def _imported() -> set[str]:
    modules: set[str] = set()
    for path in (REPO / "runner").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    local = {"runner"} | {p.stem for p in (REPO / "runner").rglob("*.py")}  # e.g. the sandbox worker's `kernel`
    return {m for m in modules if m not in sys.stdlib_module_names and m not in local}


def test_every_imported_module_is_declared() -> None:
    declared = {_name(r) for reqs in _declared().values() for r in reqs}
    dists = packages_distributions()
    undeclared = sorted(m for m in _imported() if not any(_name(d) in declared for d in dists.get(m, [m])))
    assert undeclared == []


def test_constraints_pin_every_declared_dependency() -> None:
    lines = (REPO / "constraints.txt").read_text().splitlines()
    pinned = {_name(line) for line in lines if line and not line.startswith("#")}
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[A-Za-z0-9_.+]+", line) for line in lines if line and line[0] != "#")
    declared = {_name(r) for reqs in _declared().values() for r in reqs}
    assert sorted(declared - pinned) == []


def test_extras_use_ranges_not_exact_pins() -> None:
    exact = [r for reqs in _declared().values() for r in reqs if "==" in r.split(";")[0]]
    assert exact == []
