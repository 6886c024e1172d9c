"""Import and export of OpenAI grader JSON, through the API and `flywheel grader import|export`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.cli import main
from runner.graders.openai_json import GraderJsonError, from_openai, to_openai
from runner.specs.grader import LabelModel, MultiGrader, ScoreModel, StringCheck, TextSimilarity

REPO = Path(__file__).parents[2]

# Shapes as OpenAI documents them for testing_criteria and RFT graders.
OPENAI_STRING_CHECK = {
    "type": "string_check",
    "name": "exact",
    "input": "{{ sample.output_text }}",
    "reference": "{{ item.label }}",
    "operation": "eq",
}
OPENAI_SIMILARITY = {
    "type": "text_similarity",
    "name": "close",
    "input": "{{ sample.output_text }}",
    "reference": "{{ item.answer }}",
    "evaluation_metric": "rouge_l",
    "pass_threshold": 0.4,
}
OPENAI_SCORE = {
    "type": "score_model",
    "name": "judge",
    "model": "gpt-4o-2024-08-06",
    "input": [
        {"type": "message", "role": "system", "content": {"type": "input_text", "text": "Score 0 to 1."}},
        {"type": "message", "role": "user", "content": "Answer: {{ sample.output_text }}"},
    ],
    "range": [0, 1],
    "sampling_params": {"temperature": 0, "seed": 42, "max_completions_tokens": 512, "top_p": None},
}
OPENAI_LABEL = {
    "type": "label_model",
    "name": "sentiment",
    "model": "gpt-4o-mini",
    "input": [{"role": "developer", "content": "Label it."}, {"role": "user", "content": "{{ item.text }}"}],
    "labels": ["positive", "neutral", "negative"],
    "passing_labels": ["positive", "neutral"],
}
OPENAI_PYTHON = {
    "type": "python",
    "name": "len",
    "source": "def grade(sample, item):\n    return 1.0\n",
    "image_tag": "2025-05-08",
}
OPENAI_MULTI = {
    "type": "multi",
    "name": "combo",
    "graders": {"a": OPENAI_STRING_CHECK, "b": OPENAI_SIMILARITY},
    "calculate_output": "0.5 * a + 0.5 * b",
}


def test_import_each_openai_grader_type() -> None:
    assert isinstance(from_openai(OPENAI_STRING_CHECK), StringCheck)
    assert isinstance(from_openai(OPENAI_SIMILARITY), TextSimilarity)
    score = from_openai(OPENAI_SCORE, judge_model="judge")
    assert isinstance(score, ScoreModel)
    assert score.model == "judge"
    assert score.input[0].content == "Score 0 to 1."
    assert score.sampling_params is not None and score.sampling_params.max_tokens == 512
    label = from_openai(OPENAI_LABEL, judge_model="judge")
    assert isinstance(label, LabelModel) and label.passing_labels == ["positive", "neutral"]
    multi = from_openai(OPENAI_MULTI)
    assert isinstance(multi, MultiGrader) and set(multi.graders) == {"a", "b"}


def test_rft_text_similarity_without_pass_threshold_imports_and_round_trips() -> None:
    # OpenAI's RFT graders only score: their text_similarity has no pass_threshold.
    rft = {"type": "text_similarity", "name": "sim", "input": "{{ sample.output_text }}",
           "reference": "{{ item.answer }}", "evaluation_metric": "bleu"}  # fmt: skip
    spec = from_openai(rft)
    assert isinstance(spec, TextSimilarity) and spec.pass_threshold is None
    assert to_openai(spec, "sim", model_id=str, spec_dir=Path()) == rft


def _canonical(obj: dict[str, Any]) -> dict[str, Any]:
    """OpenAI JSON as export writes it: messages typed, multi's sub-graders named by their keys."""
    out = dict(obj)
    if "input" in out and isinstance(out["input"], list):
        out["input"] = [{"type": "message", **m} for m in out["input"]]
    if "graders" in out:
        out["graders"] = {k: {**_canonical(g), "name": k} for k, g in out["graders"].items()}
    return out


@pytest.mark.parametrize("obj", [OPENAI_STRING_CHECK, OPENAI_SIMILARITY, OPENAI_LABEL, OPENAI_PYTHON, OPENAI_MULTI])
def test_round_trip(obj: dict[str, Any]) -> None:
    spec = from_openai(obj, judge_model="judge")
    back = to_openai(spec, obj["name"], model_id=lambda ref: {"judge": obj.get("model", "")}[ref], spec_dir=Path())
    assert back == _canonical(obj)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"type": "string_check", "input": "x", "reference": "y", "operation": "startswith"}, "operation"),
        (
            {
                "type": "text_similarity",
                "input": "x",
                "reference": "y",
                "evaluation_metric": "rouge_l",
                "pass_threshold": 2,
            },
            "pass_threshold",
        ),
        ({"type": "json_schema", "schema": {}}, "Flywheel grader type"),
        (
            {**OPENAI_SCORE, "input": [{"role": "user", "content": {"type": "input_image", "image_url": "x"}}]},
            "only text",
        ),
    ],
)
def test_import_errors_say_what_is_wrong(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(GraderJsonError, match=message):
        from_openai(obj, judge_model="judge")


def test_cli_import_prints_a_grader_spec_that_validates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(REPO / "specs", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "grader.json").write_text(json.dumps(OPENAI_SCORE))
    assert main(["grader", "import", "grader.json", "--judge-model", "judge"]) == 0
    text = capsys.readouterr().out
    doc = yaml.safe_load(text)
    assert (doc["kind"], doc["metadata"]["name"], doc["spec"]["model"]) == ("Grader", "judge", "judge")
    assert doc["spec"]["sampling_params"] == {"temperature": 0.0, "max_tokens": 512, "seed": 42}
    (tmp_path / "specs" / "imported.yaml").write_text(text.replace("name: judge\n", "name: judge-imported\n", 1))
    assert main(["validate"]) == 0


def test_cli_imports_an_rft_text_similarity_grader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    rft = {"type": "text_similarity", "name": "sim", "input": "{{ sample.output_text }}",
           "reference": "{{ item.answer }}", "evaluation_metric": "rouge_l"}  # fmt: skip
    (tmp_path / "grader.json").write_text(json.dumps(rft))
    assert main(["grader", "import", "grader.json"]) == 0
    doc = yaml.safe_load(capsys.readouterr().out)
    assert doc["spec"] == {k: v for k, v in rft.items() if k != "name"}


def test_cli_import_of_bad_json_names_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.json").write_text('{\n  "type": "string_check",\n  "input": \n}\n')
    assert main(["grader", "import", "g.json"]) == 1
    err = capsys.readouterr().err
    assert "g.json:4:" in err and "Traceback" not in err


def test_cli_export_resolves_models_and_inlines_python_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(REPO / "specs", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    assert main(["grader", "export", "order-field-f1"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["type"] == "python"
    assert exported["source"] == (tmp_path / "specs/extraction/field_f1.py").read_text()
    assert main(["grader", "export", "answer-judge"]) == 0
    judge = json.loads(capsys.readouterr().out)
    assert judge["model"] == "smollm2-135m-instruct"  # the Model spec's model id, not its name
    assert main(["grader", "export", "order-json-valid"]) == 1
    assert "OpenAI's graders do not have" in capsys.readouterr().err
