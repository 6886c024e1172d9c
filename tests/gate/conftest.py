"""Gate fixtures: a fake model whose quality the system prompt sets, so a PR can regress or improve on cue."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from runner.testing.fake_openai import FakeOpenAI
from tests.engine.conftest import echo_even


def responder(body: dict[str, Any]) -> str:
    """Echo-even, unless the system prompt says 'Never' (all wrong) or 'Always' (all right)."""
    system = str(body["messages"][0]["content"])
    word = str(body["messages"][-1]["content"]).split()[-1]
    if "Never" in system:
        return "wrong"
    if "Always" in system:
        return word
    return echo_even(body)


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(responder=responder) as fake:
        yield fake
