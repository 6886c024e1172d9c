"""Hostile inputs through the CLI: every case is `flywheel validate` in a subprocess under an RLIMIT_AS cap and
must end in exit 1 with a located error, no traceback, and nothing written (docs/security.md)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.specs.cliserver import CliServer
from tests.specs.hostile_inputs import CASES

HEADROOM = 768 * 1024 * 1024
"""Address space a command may add to the server's: a bomb that got through would die here, not pass."""


@pytest.fixture(scope="module")
def cli() -> Iterator[CliServer]:
    server = CliServer(HEADROOM, timeout_s=60)
    yield server
    server.close()


def _apply(repo: Path, edits: list[tuple[str, str | None, str | bytes]]) -> None:
    for file, old, new in edits:
        path = repo / file
        data = new.encode() if isinstance(new, str) else new
        if old is not None:
            before = path.read_bytes()
            assert old.encode() in before, f"fixture text not found in {file}: {old[:60]!r}"
            data = before.replace(old.encode(), data, 1)
        path.write_bytes(data)


def test_the_corpus_is_large_and_distinct() -> None:
    assert len(CASES) >= 80
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize(("edits", "where", "fragment"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_a_hostile_input_is_a_located_error(
    cli: CliServer, tmp_path: Path, edits: list[tuple[str, str | None, str | bytes]], where: str, fragment: str
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "mini", repo)
    (repo / ".git").mkdir()  # the project root
    _apply(repo, edits)
    outcome = cli.run(["validate", "specs"], repo, tmp_path)
    assert not outcome.timed_out
    headlines = [line for line in outcome.stderr.splitlines() if line.startswith("specs/")]
    assert outcome.code == 1, outcome.stderr[-2000:]
    assert headlines, outcome.stderr[-2000:]
    assert headlines[0].startswith(where) and fragment in headlines[0], headlines[0][:500]
    assert "Traceback" not in outcome.stderr and "internal error" not in outcome.stderr
    assert outcome.stdout == ""
    assert len(outcome.stderr) < 200_000  # errors quote a window of a huge line, never all of it
    assert sorted(p.name for p in repo.iterdir()) == [".git", "specs"]  # no .flywheel/, no baselines/
