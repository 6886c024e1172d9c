"""`flywheel import promptfoo` on promptfoo's own example configs (tests/fixtures/promptfoo/): imported evals
validate, run on the fake model, and score each output as promptfoo's assertions do. promptfoo (Node) cannot
run here, so `promptfoo_verdict` re-implements its documented semantics from src/assertions/*.ts, separately
from the grader the importer writes."""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from runner.cli import main
from runner.testing.fake_openai import FakeOpenAI
from tests.conftest import FIXTURES
from tests.importers.conftest import dataset_rows, result_items

OUTPUTS = [
    "Yarr",
    "yarr! I be hungry for GRUB",
    '{"life": "at sea"}',
    "Ahoy, world",
    "Bonjour le monde!",
    "¿DÓNDE ESTÁ LA BIBLIOTECA?",
    'Here: {"order": "17", "items": 2}',
    '{"order": 9}',
    '{"cancel": true}',
    "Sorry, arrr, I cannot",
]


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


RIGHT = {
    "French": "Bonjour le monde!",
    "Spanish": "¿DÓNDE ESTÁ LA BIBLIOTECA?",
    "Yes": "Yarr",
    "hungry": "yarr! I be hungry for GRUB",
    "Two mugs": 'Here: {"order": "17", "items": 2}',
    "3 plates": '{"order": 9}',
    "Cancel": '{"cancel": true}',
    "JSON": '{"life": "at sea"}',
}


def answer(body: dict[str, Any]) -> str:
    """A fake model answering two prompts in three as the test expects and the rest from a fixed list."""
    text = str(body["messages"][-1]["content"])
    if "response_format" in body:  # the llm-rubric judge
        return json.dumps({"reasoning": "looked", "score": (_h(text) % 5) / 4})
    h = _h(str(body["model"]) + text)
    right = next((v for k, v in RIGHT.items() if k in text), None)
    return right if right is not None and h % 3 else OUTPUTS[h % len(OUTPUTS)]


def promptfoo_verdict(asserts: list[dict[str, Any]], output: str) -> bool:
    """A test passes when all its assertions do (promptfoo's AssertionsResult), each as in promptfoo's source."""

    def check(kind: str, value: Any) -> bool:
        if kind == "equals":  # equals.ts: deep-equal parsed JSON for object values, else string equality
            if isinstance(value, dict | list):
                try:
                    return bool(json.loads(output) == value)
                except ValueError:
                    return False
            return output == str(value)
        if kind == "contains":  # contains.ts
            return str(value) in output
        if kind == "icontains":
            return str(value).lower() in output.lower()
        if kind == "regex":  # regex.ts: new RegExp(value).test(output)
            return re.search(str(value), output) is not None
        if kind == "is-json":  # json.ts: JSON.parse succeeds
            try:
                json.loads(output, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
                return True
            except ValueError:
                return False
        if kind == "contains-json":  # json.ts: some JSON object in the output satisfies the schema
            for start in (m.start() for m in re.finditer(r"[{\[]", output)):
                for end in range(len(output), start, -1):
                    try:
                        obj = json.loads(output[start:end])
                    except ValueError:
                        continue
                    required = (value or {}).get("required", [])
                    if isinstance(obj, dict) and all(k in obj for k in required):
                        return True
            return False
        raise AssertionError(kind)

    for a in asserts:
        kind = a["type"]
        inverse = kind.startswith("not-")
        if check(kind.removeprefix("not-"), a.get("value")) == inverse:
            return False
    return True


@pytest.fixture
def configs(project: Path) -> Path:
    dest = project / "vendor" / "promptfoo"
    shutil.copytree(FIXTURES / "promptfoo", dest)
    return dest


def test_simple_test_imports_with_notes(project: Path, configs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", "promptfoo", str(configs / "simple-test/promptfooconfig.yaml"), "--model", "app-model"]) == 0
    specs = project / "specs"
    assert capsys.readouterr().out.splitlines() == [
        f"created {specs}/simple-test/llm-rubric.jsonl",
        f"created {specs}/simple-test/promptfoo_asserts.py",
        f"created {specs}/simple-test/similar.jsonl",
        f"created {specs}/simple-test/simple-test.yaml",
        f"created {specs}/simple-test/tests.jsonl",
        "imported 6 evals (simple-test-p1, simple-test-p1-llm-rubric, simple-test-p1-similar, simple-test-p2, "
        "simple-test-p2-llm-rubric, simple-test-p2-similar); 3 notes on what was not carried over:",
        "  - 1 `javascript` assertion not carried over: runs JavaScript, which Flywheel does not; write a python "
        "Grader instead",
        "  - 1 `python` assertion not carried over: has no Flywheel equivalent yet; write a python Grader instead",
        "  - llm-rubric: the judge answers {reasoning, score} by structured output with its own prompt, not "
        "promptfoo's grading prompt",
        "next: flywheel validate",
    ]
    rows = dataset_rows(specs / "simple-test/tests.jsonl")
    assert sorted(r["description"] for r in rows.values()) == [
        "Another basic substring check",
        "Check for exact match",
        "Check if output is JSON",
        "Use LLM to evaluate output",  # its $ref'd icontains assertion
    ]
    assert main(["validate"]) == 0
    assert capsys.readouterr().out == (
        "ok: 2 Model, 3 Prompt, 4 Dataset, 4 Grader, 7 Eval in 3 files; 18 dataset items\n"
    )


def test_providers_tests_file_and_unsupported_parts(
    project: Path, configs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "promptfoo", str(configs / "json-checks/promptfooconfig.yaml")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[3:] == [
        "imported 1 eval (json-checks); 4 notes on what was not carried over:",
        "  - provider 'anthropic:messages:claude-sonnet-4': only openai: providers map to a Model spec; skipped",
        "  - 1 `javascript` assertion not carried over: runs JavaScript, which Flywheel does not; write a python "
        "Grader instead",
        "  - contains-json: promptfoo repairs malformed JSON (jsonrepair) before parsing; Flywheel finds only JSON "
        "that parses as it is",
        "  - promptfooconfig.yaml test 4: same input as test 3 with a different expected answer; kept the first; "
        "dropped",
        "next: flywheel validate",
    ]
    text = (project / "specs/json-checks/json-checks.yaml").read_text()
    assert "  model: gpt-4o-mini\n" in text and "    temperature: 0\n" in text
    assert "content: 'Extract the order as JSON: {{ item.email }}'" in text
    rows = list(dataset_rows(project / "specs/json-checks/tests.jsonl").values())
    assert rows[0]["asserts"][-1] == {"type": "regex", "value": '"order":\\s*"?17'}  # vars rendered
    assert rows[0]["asserts"][0] == {"type": "not-icontains", "value": "sorry"}  # defaultTest first


@pytest.mark.parametrize(
    ("config", "evals"),
    [
        ("simple-test", ["simple-test-p1", "simple-test-p2"]),
        ("getting-started", ["getting-started-p1", "getting-started-p2"]),
        ("json-checks", ["json-checks"]),
    ],
)
def test_assertions_score_as_promptfoo(
    project: Path, configs: Path, monkeypatch: pytest.MonkeyPatch, config: str, evals: list[str]
) -> None:
    assert main(["import", "promptfoo", str(configs / config / "promptfooconfig.yaml")]) == 0
    rows = dataset_rows(project / "specs" / config / "tests.jsonl")
    verdicts = set()
    with FakeOpenAI(responder=answer) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        for name in evals:
            assert main(["run", name]) == 0
            model = {"simple-test": "gpt-4.1-mini", "getting-started": "gpt-4.1"}.get(config, "gpt-4o-mini")
            for item_id, item in result_items(project, name, model).items():
                expected = promptfoo_verdict(rows[item_id]["asserts"], item["output"])
                assert item["scores"]["pass"]["score"] == float(expected), (name, item_id, item["output"])
                verdicts.add(expected)
    assert verdicts == {True, False}


def test_rubric_and_similar_evals_score_the_judge_and_the_embeddings(
    project: Path, configs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["import", "promptfoo", str(configs / "simple-test/promptfooconfig.yaml"), "--model", "app-model"]) == 0
    with FakeOpenAI(responder=answer) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        assert main(["run", "simple-test-p1-llm-rubric"]) == 0
        assert main(["run", "simple-test-p1-similar"]) == 0
    [rubric] = result_items(project, "simple-test-p1-llm-rubric").values()
    assert rubric["scores"]["rubric"]["pass"] == float(rubric["scores"]["rubric"]["score"] >= 0.5)
    [similar] = result_items(project, "simple-test-p1-similar").values()

    def embed(text: str) -> list[float]:  # the fake server's embedding
        return [b / 255 for b in hashlib.sha256(text.encode()).digest()[:16]]

    a, b = embed(similar["output"]), embed("Ahoy, world")
    cosine = sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    assert similar["scores"]["similar"]["score"] == pytest.approx(cosine)
    assert similar["scores"]["similar"]["pass"] == float(cosine >= 0.75)  # promptfoo's default threshold
