"""Training data checks before anything is spent: line rules per method, minimum size, contamination of the
evals that judge the model, tokens and cost, and the whole recipe check."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from runner.errors import TrainingDataError
from runner.finetune.data import ExampleInput, training_data_hash
from runner.finetune.validate import (
    EvalInput,
    TokenReport,
    auto_epochs,
    check_contamination,
    judging_evals,
    token_report,
    validate_recipe,
    validate_training_file,
)
from runner.models.pricing import count_tokens
from runner.specs.datasets import Item
from runner.specs.finetune import Method
from runner.specs.loader import SpecSet, load_specs
from runner.specs.model import Pricing
from tests.conftest import REPO

U = '{"role": "user", "content": "hi"}'
S = '{"role": "system", "content": "be brief"}'
A = '{"role": "assistant", "content": "hello"}'
B = '{"role": "assistant", "content": "go away"}'
ROLES = "system, developer, user, assistant, tool, function"
KEYS = "role, content, name, tool_calls, tool_call_id, function_call, weight"

GOOD = {
    "sft": f'{{"messages": [{S}, {U}, {A}]}}',
    "dpo": f'{{"input": {{"messages": [{S}, {U}]}}, "preferred_output": [{A}], "non_preferred_output": [{B}]}}',
    "rft": f'{{"messages": [{S}, {U}], "label": "hello"}}',
}

BAD: dict[str, tuple[Method, str, str]] = {
    # id: (method, line 3 of an otherwise good 11-line file, the one expected headline)
    "invalid json": (
        "sft",
        '{"messages": [',
        "train.jsonl:3:15: invalid JSON (Expecting value); write one JSON object per line",
    ),
    "single quotes": (
        "sft",
        "{'messages': []}",
        "train.jsonl:3:2: invalid JSON (Expecting property name enclosed in double quotes); write one JSON object per line",
    ),
    "empty line": ("sft", "", "train.jsonl:3: empty line; remove it (one JSON example per line)"),
    "not an object": (
        "sft",
        "[1, 2]",
        "train.jsonl:3: expected a JSON object, got array; write one example per line as a JSON object",
    ),
    "no messages": (
        "sft",
        '{"prompt": "hi", "completion": "hello"}',
        """train.jsonl:3: no 'messages'; add "messages": [..., {"role": "assistant", "content": ...}]""",
    ),
    "messages not a list": (
        "sft",
        '{"messages": "hi"}',
        """train.jsonl:3: 'messages' is string, not a list; add "messages": [..., {"role": "assistant", "content": ...}]""",
    ),
    "messages empty": (
        "sft",
        '{"messages": []}',
        """train.jsonl:3: 'messages' is empty; add "messages": [..., {"role": "assistant", "content": ...}]""",
    ),
    "message not an object": (
        "sft",
        f'{{"messages": ["hi", {A}]}}',
        """train.jsonl:3: message 1 is string, not an object; write it as {"role": ..., "content": ...}""",
    ),
    "missing role": (
        "sft",
        f'{{"messages": [{{"content": "hi"}}, {A}]}}',
        f"train.jsonl:3: message 1 has no 'role'; add one of {ROLES}",
    ),
    "missing content": (
        "sft",
        f'{{"messages": [{{"role": "user"}}, {A}]}}',
        """train.jsonl:3: message 1 has no 'content'; add the message text as "content\"""",
    ),
    "content a number": (
        "sft",
        f'{{"messages": [{{"role": "user", "content": 5}}, {A}]}}',
        "train.jsonl:3: message 1 has content of type number; write the message text as a string",
    ),
    "unrecognised key": (
        "sft",
        f'{{"messages": [{{"role": "user", "content": "hi", "speaker": "bob"}}, {A}]}}',
        f"train.jsonl:3: message 1 has unrecognised key 'speaker'; allowed: {KEYS}",
    ),
    "unrecognised role": (
        "sft",
        f'{{"messages": [{U}, {{"role": "robot", "content": "beep"}}, {A}]}}',
        f"train.jsonl:3: message 2 has role 'robot'; use one of {ROLES}",
    ),
    "weight 0.5": (
        "sft",
        f'{{"messages": [{U}, {{"role": "assistant", "content": "hello", "weight": 0.5}}]}}',
        "train.jsonl:3: message 2 has weight 0.5; use 0 (do not learn this turn) or 1 (learn it)",
    ),
    "weight true": (
        "sft",
        f'{{"messages": [{U}, {{"role": "assistant", "content": "hello", "weight": true}}]}}',
        "train.jsonl:3: message 2 has weight true; use 0 (do not learn this turn) or 1 (learn it)",
    ),
    "weight on user": (
        "sft",
        f'{{"messages": [{{"role": "user", "content": "hi", "weight": 1}}, {A}]}}',
        "train.jsonl:3: message 1 has a 'weight' but role 'user'; only assistant messages take one: remove it",
    ),
    "no assistant": (
        "sft",
        f'{{"messages": [{S}, {U}]}}',
        """train.jsonl:3: no assistant message; end the example with {"role": "assistant", "content": <the answer to learn>}""",
    ),
    "last not assistant": (
        "sft",
        f'{{"messages": [{U}, {A}, {U}]}}',
        "train.jsonl:3: last message has role 'user'; end the example with the assistant answer to learn",
    ),
    "empty answer": (
        "distill",
        f'{{"messages": [{U}, {{"role": "assistant", "content": "  "}}]}}',
        "train.jsonl:3: message 2 is an assistant message with empty content; give the answer to learn",
    ),
    "dpo no input": (
        "dpo",
        f'{{"preferred_output": [{A}], "non_preferred_output": [{B}]}}',
        """train.jsonl:3: no 'input' object; add "input": {"messages": [...the prompt...]}""",
    ),
    "dpo no input.messages": (
        "dpo",
        f'{{"input": {{}}, "preferred_output": [{A}], "non_preferred_output": [{B}]}}',
        """train.jsonl:3: no 'input.messages'; add "messages": [...] inside "input\"""",
    ),
    "dpo input role": (
        "dpo",
        f'{{"input": {{"messages": [{{"role": "robot", "content": "hi"}}]}}, "preferred_output": [{A}], "non_preferred_output": [{B}]}}',
        f"train.jsonl:3: input message 1 has role 'robot'; use one of {ROLES}",
    ),
    "dpo input ends with assistant": (
        "dpo",
        f'{{"input": {{"messages": [{U}, {A}]}}, "preferred_output": [{A}], "non_preferred_output": [{B}]}}',
        "train.jsonl:3: 'input.messages' ends with an assistant message; end it with the user turn both outputs answer",
    ),
    "dpo two preferred": (
        "dpo",
        f'{{"input": {{"messages": [{U}]}}, "preferred_output": [{A}, {A}], "non_preferred_output": [{B}]}}',
        "train.jsonl:3: 'preferred_output' has 2 messages; give exactly one assistant message",
    ),
    "dpo no non-preferred": (
        "dpo",
        f'{{"input": {{"messages": [{U}]}}, "preferred_output": [{A}]}}',
        """train.jsonl:3: no 'non_preferred_output' list; add "non_preferred_output": [{"role": "assistant", "content": ...}]""",
    ),
    "dpo non-preferred by user": (
        "dpo",
        f'{{"input": {{"messages": [{U}]}}, "preferred_output": [{A}], "non_preferred_output": [{U}]}}',
        """train.jsonl:3: 'non_preferred_output' holds 'user', not an assistant message; add "non_preferred_output": [{"role": "assistant", "content": ...}]""",
    ),
    "dpo preferred empty": (
        "dpo",
        f'{{"input": {{"messages": [{U}]}}, "preferred_output": [{{"role": "assistant", "content": ""}}], "non_preferred_output": [{B}]}}',
        "train.jsonl:3: 'preferred_output' message has no content; give the answer as non-empty text",
    ),
    "dpo identical": (
        "dpo",
        f'{{"input": {{"messages": [{U}]}}, "preferred_output": [{A}], "non_preferred_output": [{A}]}}',
        "train.jsonl:3: 'preferred_output' and 'non_preferred_output' are identical; make the rejected answer differ",
    ),
    "rft ends with assistant": (
        "rft",
        f'{{"messages": [{U}, {A}], "label": "hello"}}',
        "train.jsonl:3: last message has role 'assistant'; rft examples end with the user message the model answers: remove the trailing assistant turn",
    ),
    "rft ends with system": (
        "rft",
        f'{{"messages": [{U}, {S}]}}',
        "train.jsonl:3: last message has role 'system'; rft examples end with the user message the model answers",
    ),
    "rft no messages": (
        "rft",
        '{"label": "hello"}',
        """train.jsonl:3: no 'messages'; add "messages": [..., {"role": "user", ...}]""",
    ),
}


def _file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("method", "line", "expected"), BAD.values(), ids=BAD.keys())
def test_a_bad_line_gives_one_exact_diagnostic(here: Path, method: Method, line: str, expected: str) -> None:
    good = GOOD["sft" if method == "distill" else method]
    path = _file(here, [good, good, line, *[good] * 8])
    assert [d.headline() for d in validate_training_file(path, method)] == [expected]


@pytest.mark.parametrize("method", ["sft", "dpo", "rft", "distill"])
def test_good_files_pass(here: Path, method: Method) -> None:
    path = _file(here, [GOOD["sft" if method == "distill" else method]] * 10)
    assert validate_training_file(path, method) == []


def test_a_line_reports_every_problem_it_has(here: Path) -> None:
    line = (
        '{"messages": [{"role": "robot", "content": "hi", "mood": 1}, {"role": "user", "content": "x", "weight": 1}]}'
    )
    path = _file(here, [GOOD["sft"]] * 10 + [line])
    assert [d.headline() for d in validate_training_file(path, "sft")] == [
        f"train.jsonl:11: message 1 has unrecognised key 'mood'; allowed: {KEYS}",
        f"train.jsonl:11: message 1 has role 'robot'; use one of {ROLES}",
        "train.jsonl:11: message 2 has a 'weight' but role 'user'; only assistant messages take one: remove it",
        """train.jsonl:11: no assistant message; end the example with {"role": "assistant", "content": <the answer to learn>}""",
    ]


@pytest.mark.parametrize(
    ("n", "minimum", "expected"),
    [
        (
            3,
            10,
            [
                "train.jsonl: 3 examples; fine-tuning needs at least 10: add examples (OpenAI suggests starting with 50 to 100)"
            ],
        ),
        (
            1,
            10,
            [
                "train.jsonl: 1 example; fine-tuning needs at least 10: add examples (OpenAI suggests starting with 50 to 100)"
            ],
        ),
        (
            9,
            10,
            [
                "train.jsonl: 9 examples; fine-tuning needs at least 10: add examples (OpenAI suggests starting with 50 to 100)"
            ],
        ),
        (10, 10, []),
        (2, 2, []),
    ],
)
def test_minimum_number_of_examples(here: Path, n: int, minimum: int, expected: list[str]) -> None:
    path = _file(here, [GOOD["sft"]] * n)
    diags = validate_training_file(path, "sft", min_examples=minimum)
    assert [d.headline() for d in diags] == expected
    assert all(d.line is None for d in diags)


def test_a_missing_file_is_one_diagnostic(here: Path) -> None:
    (diag,) = validate_training_file(here / "nope.jsonl", "sft")
    assert diag.file == "nope.jsonl"
    assert diag.message.startswith("cannot read the training file (")


# -- contamination ------------------------------------------------------------------------------------------------


def _specs(repo: Path) -> SpecSet:
    return load_specs([repo / "specs"])


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


WORK = Path(".flywheel") / "ft"
T05 = "When will order 2002 arrive?"
DUPLICATE_OF_T01 = "  where is my PACKAGE?   Order 1001 has not moved in days."
CONTAMINATED = [
    f".flywheel/ft/train.jsonl:1: training item 't05' has the same input as item 't01' of Eval '{ev}' (split 'test'); "
    "the model would be judged on what it trained on: remove it from the training data"
    for ev in ("terse", "triage")
]


def test_evals_that_judge_the_base_model_count(ft_repo: Path) -> None:
    assert judging_evals(_specs(ft_repo), "triage-sft") == ("terse", "triage")
    assert judging_evals(load_specs([REPO / "specs"]), "triage-sft") == ("extraction", "support-answers", "triage")


def test_a_clean_split_passes(ft_repo: Path) -> None:
    """`hosted-train` runs on the train split, but for another model: it is not contamination."""
    result = validate_recipe(_specs(ft_repo), "triage-sft", WORK)
    assert result.evals_checked == ("terse", "triage")
    assert result.training.n_examples == 11
    assert result.training.path == WORK / "train.jsonl"
    assert result.validation is None


def test_a_training_item_duplicating_a_test_item_is_caught_under_both_eval_prompts(ft_repo: Path) -> None:
    """Case and spacing differ, and Eval `terse` words its system prompt differently: both still match."""
    _edit(ft_repo / "specs" / "tickets.jsonl", T05, DUPLICATE_OF_T01)
    with pytest.raises(TrainingDataError) as info:
        validate_recipe(_specs(ft_repo), "triage-sft", WORK)
    assert [d.headline() for d in info.value.diagnostics] == CONTAMINATED


def test_every_problem_is_raised_at_once(ft_repo: Path) -> None:
    _edit(ft_repo / "specs" / "tickets.jsonl", T05, DUPLICATE_OF_T01)
    _edit(
        ft_repo / "specs" / "triage.yaml",
        'completion: "{{ item.label }}"\n  triggers:',
        'completion: "{{ item.label }}"\n    max_examples: 4\n  triggers:',
    )
    with pytest.raises(TrainingDataError) as info:
        validate_recipe(_specs(ft_repo), "triage-sft", WORK)
    assert [d.headline() for d in info.value.diagnostics] == [
        ".flywheel/ft/train.jsonl: 4 examples; fine-tuning needs at least 10: add examples (OpenAI suggests starting with 50 to 100)",
        *CONTAMINATED,
    ]
    assert info.value.render().endswith("flywheel: 3 problems in the training data; nothing was trained")


def _input(line: int, item: str, conversation: str, *contents: str) -> ExampleInput:
    return ExampleInput(line, item, conversation, contents)


def test_contamination_matches_the_whole_input_or_any_user_message() -> None:
    evals = [EvalInput("e", "test", "x1", "conv-a", ("u1",)), EvalInput("e", None, "x2", "conv-b", ("u2", "u3"))]
    training = [_input(1, "a", "conv-a", "u9"), _input(2, "b", "conv-z", "u3"), _input(3, "c", "conv-z", "u4")]
    assert [d.headline() for d in check_contamination(training, evals, file="t.jsonl")] == [
        "t.jsonl:1: training item 'a' has the same input as item 'x1' of Eval 'e' (split 'test'); the model would be judged on what it trained on: remove it from the training data",
        "t.jsonl:2: training item 'b' has the same input as item 'x2' of Eval 'e' (all splits); the model would be judged on what it trained on: remove it from the training data",
    ]


def test_validation_examples_overlapping_training_are_reported(ft_repo: Path) -> None:
    _edit(
        ft_repo / "specs" / "triage.yaml",
        "  training:\n    dataset: tickets\n    split: train\n    prompt: triage\n---\napiVersion: flywheel/v1\nkind: FineTune\nmetadata:\n  name: triage-distill",
        "  training:\n    dataset: tickets\n    split: train\n    prompt: triage\n  validation:\n    dataset: tickets\n    split: train\n    prompt: triage\n    max_examples: 2\n---\napiVersion: flywheel/v1\nkind: FineTune\nmetadata:\n  name: triage-distill",
    )
    with pytest.raises(TrainingDataError) as info:
        validate_recipe(_specs(ft_repo), "triage-rft", WORK)
    assert [d.headline() for d in info.value.diagnostics] == [
        ".flywheel/ft/validation.jsonl:1: validation item 't05' has the same input as training item 't05' (line 1); keep the validation data apart from the training data",
        ".flywheel/ft/validation.jsonl:2: validation item 't06' has the same input as training item 't06' (line 2); keep the validation data apart from the training data",
    ]


def test_rft_on_openai_needs_a_validation_split(ft_repo: Path) -> None:
    _edit(
        ft_repo / "specs" / "triage.yaml",
        "  method: rft\n  base_model: small\n  backend: fake",
        "  method: rft\n  base_model: small\n  backend: openai",
    )
    line = (ft_repo / "specs" / "triage.yaml").read_text().splitlines().index("  method: rft") + 1
    with pytest.raises(TrainingDataError) as info:
        validate_recipe(_specs(ft_repo), "triage-rft", WORK)
    assert [d.headline() for d in info.value.diagnostics] == [
        f"specs/triage.yaml:{line}: FineTune/triage-rft -> spec: method 'rft' on the openai backend needs `validation:`; add a validation split"
    ]


# -- good recipes of every method ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("recipe", "usd"), [("triage-dpo", True), ("triage-rft", False)])
def test_dpo_and_rft_recipes_pass(ft_repo: Path, recipe: str, usd: bool) -> None:
    result = validate_recipe(_specs(ft_repo), recipe, WORK)
    assert (result.training.n_examples, result.tokens.examples, result.tokens.n_epochs) == (11, 11, 10)
    assert (result.tokens.usd is not None) is usd  # rft is billed by training time, not tokens


def test_distill_recipe_passes_with_a_teacher(ft_repo: Path) -> None:
    specs = _specs(ft_repo)
    labels = {i.data["message"]: i.data["label"] for i in specs.data["tickets"].items}
    labels[T05] = "other"  # the teacher gets t05 wrong

    def teacher(messages: list[dict[str, str]]) -> str:
        return str(labels[messages[-1]["content"]])

    def accept(item: Item, answer: str) -> bool:
        return bool(answer == item.data["label"])

    result = validate_recipe(specs, "triage-distill", WORK, teacher=teacher, accept=accept)
    assert (result.training.n_examples, result.training.dropped) == (10, 1)
    assert [i.item_id for i in result.training.inputs][:2] == ["t06", "t07"]
    assert result.data_hash == training_data_hash(specs, "triage-distill")


def test_contaminated_distill_inputs_are_refused_before_the_teacher_is_asked(ft_repo: Path) -> None:
    _edit(ft_repo / "specs" / "tickets.jsonl", T05, DUPLICATE_OF_T01)
    asked: list[str] = []

    def teacher(messages: list[dict[str, str]]) -> str:
        asked.append(messages[-1]["content"])
        return "other"

    with pytest.raises(TrainingDataError) as info:
        validate_recipe(_specs(ft_repo), "triage-distill", WORK, teacher=teacher)
    assert asked == []  # not one paid call
    assert [d.headline() for d in info.value.diagnostics] == [
        line.replace("ft/train.jsonl", "ft/train.inputs.jsonl") for line in CONTAMINATED
    ]


def test_the_real_triage_recipe_is_clean(tmp_path: Path) -> None:
    specs = load_specs([REPO / "specs"])
    result = validate_recipe(specs, "triage-sft", tmp_path / "work")
    assert result.training.n_examples == 60
    assert result.evals_checked == ("extraction", "support-answers", "triage")
    assert (result.tokens.n_epochs, result.tokens.usd) == (2, None)  # n_epochs: 2 in the recipe; local: unpriced
    assert result.data_hash == training_data_hash(specs, "triage-sft")


# -- tokens and cost -----------------------------------------------------------------------------------------------

HELLO = json.dumps({"messages": [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "world"}]})


def test_token_report_for_a_known_file(here: Path) -> None:
    assert count_tokens("hello") == count_tokens("world") == 1
    path = _file(here, [HELLO] * 10)
    # per example: 3 (reply) + 2 messages x (4 framing + 1 content) = 13; auto epochs for 10 examples: 100 / 10
    report = token_report(path, "sft", "auto", Pricing(training_per_1m=8.0))
    assert replace(report, usd=None) == TokenReport(
        examples=10, tokens_per_epoch=130, max_example_tokens=13, n_epochs=10, total_tokens=1300, usd=None
    )
    assert report.usd == pytest.approx(0.0104)  # 1300 / 1M x $8
    assert token_report(path, "sft", 3, Pricing(training_per_1m=8.0)).usd == pytest.approx(390 * 8.0 / 1e6)
    assert token_report(path, "sft", 3, Pricing()).usd is None
    assert token_report(path, "sft", 3, None).total_tokens == 390


@pytest.mark.parametrize(
    ("n", "epochs"), [(1, 25), (4, 25), (10, 10), (33, 4), (34, 3), (60, 3), (5000, 3), (9000, 2), (30000, 1)]
)
def test_auto_epochs_follow_openai_defaults(n: int, epochs: int) -> None:
    assert auto_epochs(n) == epochs
