"""Each result item keeps what a reviewer needs to judge it: the rendered input (by reference), the values the
graders compared against, the output, every grader's reason, latency, tokens and cost; capped, never secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.cli import main
from runner.documents.io import read_result
from runner.engine.samples import MAX_OUTPUT, load_input
from runner.testing.fake_openai import FakeOpenAI
from tests.report import conftest as report_fixtures

server = report_fixtures.server
report_repo = report_fixtures.report_repo


def test_items_keep_input_references_output_reasons_and_usage(report_repo: Path) -> None:
    assert main(["run", "words", "--model", "fake"]) == 0
    doc = read_result(report_repo / ".flywheel/results/words/fake.json")
    right, wrong = doc.items[0], doc.items[1]
    assert (right.id, right.output, wrong.id, wrong.output) == ("w00", "apple", "w01", "wrong")
    assert wrong.references == {"word": "banana"}  # the field the graders read, not `note`
    assert wrong.reasons == {"judged": "no: The answer 'wrong' is not 'banana'."}
    assert right.reasons == {"judged": "yes: The answer 'apple' is the word itself."}
    assert wrong.input_ref is not None
    assert load_input(report_repo / ".flywheel", wrong.input_ref) == [
        {"role": "system", "content": "Repeat the word."},
        {"role": "user", "content": "banana"},
    ]
    assert wrong.latency_s is not None and wrong.latency_s >= 0
    assert wrong.tokens is not None and wrong.tokens.prompt > 0 and wrong.tokens.completion > 0
    assert wrong.cost_usd > 0
    assert wrong.capped == {}


def test_long_outputs_are_capped_with_the_cap_shown_and_secrets_never_kept(
    report_repo: Path, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VENDOR_API_KEY", "vk-0123456789abcdef")
    server.responder = lambda body: (
        '{"reasoning": "fine", "label": "yes"}'
        if "response_format" in body
        else "leaked vk-0123456789abcdef and sk-proj-ABCDEFGHIJKLMNOPQRSTUV " + "x" * 9000
    )
    assert main(["run", "words", "--model", "fake", "--limit", "1"]) == 0
    path = report_repo / ".flywheel/results/words/fake.json"
    [item] = read_result(path).items
    assert item.output == ("leaked [redacted] and [redacted] " + "x" * 9000)[:MAX_OUTPUT]
    assert item.capped == {"output": 9033}
    assert "0123456789abcdef" not in path.read_text()
    assert "ABCDEFGHIJKLMNOP" not in path.read_text()
