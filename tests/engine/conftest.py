"""Engine fixtures: a copy of tests/fixtures/engine pointed at an in-process fake OpenAI server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.testing.fake_openai import FakeOpenAI
from tests.conftest import copy_fixture


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
    dest = copy_fixture("engine", tmp_path / "repo", fake.base_url, "specs/eval.yaml")
    monkeypatch.chdir(dest)
    return dest
