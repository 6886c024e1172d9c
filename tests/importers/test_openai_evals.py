"""`flywheel import openai-evals`: Evals API objects built with the openai SDK's own types (the reference for
their shapes) become specs that validate, run on the fake model, and score as OpenAI's graders define."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openai.types.eval_custom_data_source_config import EvalCustomDataSourceConfig
from openai.types.eval_retrieve_response import EvalRetrieveResponse, TestingCriterionEvalGraderTextSimilarity
from openai.types.evals.create_eval_completions_run_data_source import CreateEvalCompletionsRunDataSource
from openai.types.graders.label_model_grader import LabelModelGrader
from openai.types.graders.string_check_grader import StringCheckGrader

from runner.cli import main
from runner.testing.fake_openai import FakeOpenAI
from tests.importers.conftest import dataset_rows, result_items

TICKETS = [
    {"ticket": "My card was charged twice", "label": "billing"},
    {"ticket": "The parcel never arrived", "label": "shipping"},
    {"ticket": "App crashes on start", "label": "technical"},
    {"ticket": "Refund my last invoice", "label": "billing"},
    {"ticket": "The parcel never arrived", "label": "shipping"},  # an exact duplicate
]


def _eval() -> EvalRetrieveResponse:
    return EvalRetrieveResponse(
        id="eval_67abd54d9b0081909a86353f6fb9317a",
        created_at=1739314509,
        name="Ticket triage",
        object="eval",
        metadata={},
        data_source_config=EvalCustomDataSourceConfig(
            type="custom",
            schema={
                "type": "object",
                "properties": {
                    "item": {
                        "type": "object",
                        "properties": {"ticket": {"type": "string"}, "label": {"type": "string"}},
                        "required": ["ticket", "label"],
                    }
                },
            },
        ),
        testing_criteria=[
            StringCheckGrader(
                name="Exact label",
                type="string_check",
                input="{{sample.output_text}}",
                reference="{{item.label}}",
                operation="eq",
            ),
            TestingCriterionEvalGraderTextSimilarity(
                name="Close enough",
                type="text_similarity",
                input="{{sample.output_text}}",
                reference="{{item.label}}",
                evaluation_metric="fuzzy_match",
                pass_threshold=0.8,
            ),
            LabelModelGrader(
                name="Polite",
                type="label_model",
                model="o3-mini",
                input=[{"role": "user", "content": "Is this polite? {{sample.output_text}}"}],
                labels=["polite", "rude"],
                passing_labels=["polite"],
            ),
        ],
    )


def _run(source: dict[str, Any], input_messages: dict[str, Any]) -> dict[str, Any]:
    data_source = CreateEvalCompletionsRunDataSource.model_validate(
        {
            "type": "completions",
            "model": "gpt-4.1-mini",
            "input_messages": input_messages,
            "sampling_params": {"temperature": 0, "max_completion_tokens": 20, "seed": 7},
            "source": source,
        }
    )
    return {"name": "baseline", "data_source": data_source.model_dump(mode="json", exclude_none=True)}


def answer(body: dict[str, Any]) -> str:
    text = str(body["messages"][-1]["content"])
    if "response_format" in body:
        return json.dumps({"reasoning": "ok", "label": "rude" if "shipp" in text else "polite"})
    return "billing" if "charge" in text or "Refund" in text else ("shippin" if "parcel" in text else "other")


def test_eval_and_run_import_validate_and_score(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "eval.json").write_text(_eval().model_dump_json(by_alias=True))
    template = {
        "type": "template",
        "template": [
            {"role": "developer", "content": "Route the ticket: billing, shipping or technical."},
            {"role": "user", "content": {"type": "input_text", "text": "{{item.ticket}}"}},
        ],
    }
    run = _run({"type": "file_content", "content": [{"item": t} for t in TICKETS]}, template)
    (project / "run.json").write_text(json.dumps(run))
    assert main(["import", "openai-evals", "eval.json", "--run", "run.json"]) == 0
    specs = project / "specs"
    assert capsys.readouterr().out.splitlines() == [
        f"created {specs}/ticket-triage/items.jsonl",
        f"created {specs}/ticket-triage/ticket-triage.yaml",
        "imported 1 eval (ticket-triage); 1 note on what was not carried over:",
        "  - file_content:5: duplicate line 2; dropped",
        "next: flywheel validate",
    ]
    text = (specs / "ticket-triage/ticket-triage.yaml").read_text()
    assert "  model: o3-mini\n" in text and "  model: gpt-4.1-mini\n" in text
    assert "    max_tokens: 20\n" in text
    assert main(["validate"]) == 0
    assert capsys.readouterr().out == (
        "ok: 3 Model, 2 Prompt, 2 Dataset, 4 Grader, 2 Eval in 3 files; 16 dataset items\n"
    )
    with FakeOpenAI(responder=answer) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        assert main(["run", "ticket-triage"]) == 0
        sent = fake.requests[0]
    assert sent["messages"][0] == {"role": "developer", "content": "Route the ticket: billing, shipping or technical."}
    assert sent["seed"] == 7 and sent["max_tokens"] == 20
    rows = dataset_rows(specs / "ticket-triage/items.jsonl")
    items = result_items(project, "ticket-triage", "gpt-4.1-mini")
    assert len(items) == 4
    for item_id, item in items.items():
        out, label = item["output"], rows[item_id]["label"]
        assert item["scores"]["exact-label"]["score"] == float(out == label)  # string_check eq
        # text_similarity fuzzy_match: rapidfuzz's ratio, as OpenAI's grader documents; passes at 0.8
        assert item["scores"]["close-enough"]["pass"] == float(item["scores"]["close-enough"]["score"] >= 0.8)
        assert item["scores"]["polite"]["score"] == float("shipp" not in out)
    shipping = next(i for i in items.values() if i["output"] == "shippin")
    assert shipping["scores"]["exact-label"]["score"] == 0.0 and shipping["scores"]["close-enough"]["pass"] == 1.0


def test_item_reference_keeps_each_items_chat(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "eval.json").write_text(_eval().model_dump_json(by_alias=True))
    chats = [
        {
            "label": "billing",
            "ticket": "x",
            "chat": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "charged twice"},
            ],
        },
        {
            "label": "other",
            "ticket": "y",
            "chat": [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "thanks"}],
        },
    ]
    (project / "items.jsonl").write_text("".join(json.dumps({"item": c}) + "\n" for c in chats))
    run = _run({"type": "file_id", "id": "file-abc"}, {"type": "item_reference", "item_reference": "item.chat"})
    (project / "run.json").write_text(json.dumps(run))
    assert main(["import", "openai-evals", "eval.json", "--run", "run.json"]) == 1
    assert capsys.readouterr().err == (
        "error: the run's items are in a file_id source; export them and pass --items FILE.jsonl\n"
    )
    assert main(["import", "openai-evals", "eval.json", "--run", "run.json", "--items", "items.jsonl"]) == 0
    assert "  item_messages: chat\n" in (project / "specs/ticket-triage/ticket-triage.yaml").read_text()
    assert main(["validate"]) == 0
    with FakeOpenAI(responder=answer) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        assert main(["run", "ticket-triage"]) == 0
        sent = sorted((r["messages"] for r in fake.requests if "response_format" not in r), key=len)
    assert sent == [chats[1]["chat"], chats[0]["chat"]]


def test_not_an_eval_object_is_a_clean_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "eval.json").write_text('{"name": "x"}')
    assert main(["import", "openai-evals", "eval.json"]) == 1
    assert capsys.readouterr().err == (
        "error: eval.json: not an OpenAI eval object (no testing_criteria); save `client.evals.retrieve(ID)` as JSON\n"
    )
