"""Engine fixtures: a copy of tests/fixtures/engine pointed at an in-process fake OpenAI server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.testing.fake_openai import FakeOpenAI
from tests.conftest import FIXTURES


def echo_even(body: dict[str, Any]) -> str:
    """Answers the word back for even-numbered words (w00, w02, ...) and 'wrong' otherwise."""
    word = str(body["messages"][-1]["content"]).split()[-1]
    return word if word in WORDS and WORDS.index(word) % 2 == 0 else "wrong"


WORDS = [
    "apple",
    "banana",
    "cherry",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(responder=echo_even) as server:
        yield server


@pytest.fixture
def engine_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeOpenAI) -> Path:
    dest = tmp_path / "repo"
    shutil.copytree(FIXTURES / "engine", dest)
    spec = dest / "specs/eval.yaml"
    spec.write_text(spec.read_text().replace("BASE_URL", fake.base_url))
    monkeypatch.chdir(dest)
    return dest
