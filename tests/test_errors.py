"""The exit-code contract: code, docs and behaviour agree."""

from __future__ import annotations

import re

from runner.errors import Diagnostic, ExitCode, SpecError
from tests.conftest import REPO


def test_exit_code_table_in_docs_matches_the_enum() -> None:
    text = (REPO / "docs/exit-codes.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \| ([A-Z]+) \|", text, flags=re.M)
    assert [(int(code), name) for code, name in rows] == [(int(c), c.name) for c in ExitCode]


def test_spec_error_sorts_by_position_and_counts_files() -> None:
    err = SpecError(
        [
            Diagnostic("b.yaml", 3, 1, "Eval/x", "second"),
            Diagnostic("a.yaml", 10, 2, "", "first"),
            Diagnostic("b.yaml", 1, 5, "Model/y -> spec", "third", ("    1 | x", "      |     ^")),
        ]
    )
    assert err.exit_code == ExitCode.ERROR
    assert err.render() == (
        "a.yaml:10:2: first\n"
        "b.yaml:1:5: Model/y -> spec: third\n    1 | x\n      |     ^\n"
        "b.yaml:3:1: Eval/x: second\n"
        "flywheel: 3 errors in 2 files"
    )
