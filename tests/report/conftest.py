"""Report fixtures: a repo whose Eval has a string check and a judge that explains itself, on two models."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.testing.fake_openai import FakeOpenAI
from tests.conftest import copy_fixture


def responder(body: dict[str, Any]) -> str:
    """`better-model` repeats every word; `fake-model` only words whose first letter is at an even position of
    the alphabet, and says 'wrong' otherwise (always, when the system prompt says 'Never'). As a judge (a
    response_format is asked for), it reasons, then labels."""
    last = str(body["messages"][-1]["content"])
    if "response_format" in body:
        said, word = last.split("'")[1], last.split("'")[3]
        if said == word:
            return json.dumps({"reasoning": f"The answer '{said}' is the word itself.", "label": "yes"})
        return json.dumps({"reasoning": f"The answer '{said}' is not '{word}'.", "label": "no"})
    word = last.rsplit(maxsplit=1)[-1]
    if "Never" in str(body["messages"][0]["content"]):
        return "wrong"
    if body["model"] == "better-model" or (ord(word[0]) - ord("a")) % 2 == 0:
        return word
    return "wrong"


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(responder=responder) as fake:
        yield fake


@pytest.fixture
def report_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FakeOpenAI) -> Path:
    dest = copy_fixture("report", tmp_path / "repo", server.base_url, "specs/eval.yaml")
    monkeypatch.chdir(dest)
    return dest
