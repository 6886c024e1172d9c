"""Training files from FineTune recipes: shapes per method, canonical writing, the data hash, corrections."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner.errors import TrainingDataError
from runner.finetune.data import (
    build_training_file,
    data_hash,
    item_order,
    recipe_hash,
    training_data_hash,
    write_corrections,
)
from runner.hashing import sha256_hex
from runner.specs.datasets import Item
from runner.specs.loader import SpecSet, load_specs
from tests.conftest import REPO

TRAIN_IDS = ["t05", "t06", "t07", "t08", "t09", "t10", "t11", "t12", "t13", "t14", "t15"]
SYSTEM = "Route the message. Answer with one label: order_status, return_policy or other."


def _specs(repo: Path) -> SpecSet:
    return load_specs([repo / "specs"])


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_sft_from_the_real_triage_recipe_has_60_examples_with_system_prompt_and_label(tmp_path: Path) -> None:
    specs = load_specs([REPO / "specs"])
    out = build_training_file(specs, "triage-sft", tmp_path / "train.jsonl")
    rows = _lines(out.path)
    train = sorted((i for i in specs.data["tickets"].items if i.split == "train"), key=lambda i: i.id)[:60]
    system = specs.prompts["triage"].doc.spec.messages[0].content
    assert (out.n_examples, len(rows), out.method, out.dropped) == (60, 60, "sft", 0)
    assert [i.item_id for i in out.inputs] == [i.id for i in train]
    assert [i.line for i in out.inputs] == list(range(1, 61))
    for row, item in zip(rows, train, strict=True):
        assert row == {
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": item.data["message"]},
                {"role": "assistant", "content": item.data["label"]},
            ]
        }
    assert out.sha256 == sha256_hex(out.path.read_bytes())


def test_sft_file_is_canonical_and_written_atomically(ft_repo: Path, tmp_path: Path) -> None:
    specs = _specs(ft_repo)
    first = build_training_file(specs, "triage-sft", tmp_path / "a" / "train.jsonl")
    second = build_training_file(specs, "triage-sft", tmp_path / "b" / "train.jsonl")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256
    text = first.path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == (
        '{"messages":[{"role":"system","content":"' + SYSTEM + '"},'
        '{"role":"user","content":"When will order 2002 arrive?"},'
        '{"role":"assistant","content":"order_status"}]}'
    )
    assert text.endswith("}\n")
    assert sorted(p.name for p in first.path.parent.iterdir()) == ["train.jsonl"]


def test_dpo_examples_have_input_preferred_and_non_preferred(ft_repo: Path) -> None:
    out = build_training_file(_specs(ft_repo), "triage-dpo", ft_repo / "dpo.jsonl")
    rows = _lines(out.path)
    assert len(rows) == out.n_examples == 11
    assert list(rows[0]) == ["input", "preferred_output", "non_preferred_output"]
    assert rows[0] == {
        "input": {
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": "When will order 2002 arrive?"},
            ]
        },
        "preferred_output": [{"role": "assistant", "content": "order_status"}],
        "non_preferred_output": [{"role": "assistant", "content": "other"}],
    }
    assert rows[2]["non_preferred_output"] == [{"role": "assistant", "content": "order_status"}]  # t07 is "other"


def test_rft_examples_end_with_the_user_turn_and_carry_the_item_fields(ft_repo: Path) -> None:
    out = build_training_file(_specs(ft_repo), "triage-rft", ft_repo / "rft.jsonl")
    rows = _lines(out.path)
    assert len(rows) == 11
    assert list(rows[0]) == ["messages", "id", "label", "message", "split"]
    assert rows[0]["messages"][-1] == {"role": "user", "content": "When will order 2002 arrive?"}
    assert {k: v for k, v in rows[0].items() if k != "messages"} == {
        "id": "t05",
        "label": "order_status",
        "message": "When will order 2002 arrive?",
        "split": "train",
    }


def test_distill_asks_the_teacher_and_drops_answers_the_graders_reject(ft_repo: Path) -> None:
    asked: list[list[dict[str, str]]] = []

    def teacher(messages: list[dict[str, str]]) -> str:
        asked.append(messages)
        return "other"

    def accept(item: Item, answer: str) -> bool:
        return bool(answer == item.data["label"])

    out = build_training_file(_specs(ft_repo), "triage-distill", ft_repo / "d.jsonl", teacher=teacher, accept=accept)
    assert len(asked) == 11
    assert asked[0] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "When will order 2002 arrive?"},
    ]
    assert (out.n_examples, out.dropped) == (3, 8)
    assert [i.item_id for i in out.inputs] == ["t07", "t10", "t13"]
    assert all(row["messages"][-1] == {"role": "assistant", "content": "other"} for row in _lines(out.path))


def test_distill_without_a_teacher_is_refused(ft_repo: Path) -> None:
    with pytest.raises(ValueError, match="pass `teacher`"):
        build_training_file(_specs(ft_repo), "triage-distill", ft_repo / "d.jsonl")


def test_max_examples_keeps_the_first_by_item_id(ft_repo: Path) -> None:
    _edit(
        ft_repo / "specs" / "triage.yaml",
        '    completion: "{{ item.label }}"\n  triggers:',
        '    completion: "{{ item.label }}"\n    max_examples: 3\n  triggers:',
    )
    out = build_training_file(_specs(ft_repo), "triage-sft", ft_repo / "t.jsonl")
    assert [i.item_id for i in out.inputs] == ["t05", "t06", "t07"]


def test_numeric_ids_sort_by_value() -> None:
    assert sorted(["10", "2", "b", "a", "1"], key=item_order) == ["1", "2", "10", "a", "b"]


def test_every_item_whose_template_fails_is_reported_at_its_line(ft_repo: Path) -> None:
    _edit(
        ft_repo / "specs" / "tickets.jsonl",
        '"label": "order_status", "split": "train"}',
        '"label": "order_status", "split": "train", "note": "x"}',
    )
    _edit(
        ft_repo / "specs" / "triage.yaml",
        'completion: "{{ item.label }}"\n  triggers:',
        'completion: "{{ item.note }}"\n  triggers:',
    )
    with pytest.raises(TrainingDataError) as info:
        build_training_file(_specs(ft_repo), "triage-sft", ft_repo / "t.jsonl")
    headlines = [d.headline() for d in info.value.diagnostics]
    assert len(headlines) == 7  # the 4 order_status train items have a note
    assert headlines[0] == (
        "specs/tickets.jsonl:6: FineTune/triage-sft -> spec -> training -> completion: item 't06': the completion "
        "template does not render: 'dict object' has no attribute 'note'; fix the template or the item"
    )
    assert not (ft_repo / "t.jsonl").exists()


def test_data_hash_is_the_method_plus_the_file_content(ft_repo: Path) -> None:
    specs = _specs(ft_repo)
    out = build_training_file(specs, "triage-sft", ft_repo / "t.jsonl")
    assert training_data_hash(specs, "triage-sft") == data_hash("sft", out.sha256)
    assert training_data_hash(specs, "triage-sft") != training_data_hash(specs, "triage-rft")


CHANGES = {
    # (file, old, new, changes the hash of triage-sft?)
    "train row": ("tickets.jsonl", "When will order 2002 arrive?", "When will order 2003 arrive?", True),
    "train label": (
        "tickets.jsonl",
        '"How long do refunds take?", "label": "return_policy"',
        '"How long do refunds take?", "label": "other"',
        True,
    ),
    "prompt": ("triage.yaml", "Route the message.", "Route this message.", True),
    "completion": (
        "triage.yaml",
        'completion: "{{ item.label }}"\n  triggers:',
        'completion: "{{ item.label | upper }}"\n  triggers:',
        True,
    ),
    "test row": ("tickets.jsonl", "Do you sell gift cards?", "Do you sell vouchers?", False),
    "other prompt": ("triage.yaml", "One label only.", "Just one label.", False),
    "other model": ("models.yaml", "output_per_1m: 0.6", "output_per_1m: 0.7", False),
    "eval floor": ("triage.yaml", "value: {lower: 0.25}", "value: {lower: 0.3}", False),
    "trigger": ("triage.yaml", "  triggers:\n    - type: dataset_changed\n", "", False),
}


@pytest.mark.parametrize(("file", "old", "new", "changes"), CHANGES.values(), ids=CHANGES.keys())
def test_data_hash_changes_with_the_training_data_only(
    ft_repo: Path, file: str, old: str, new: str, changes: bool
) -> None:
    before = training_data_hash(_specs(ft_repo), "triage-sft")
    _edit(ft_repo / "specs" / file, old, new)
    after = training_data_hash(_specs(ft_repo), "triage-sft")
    assert (before != after) is changes


def test_distill_data_hash_never_calls_the_teacher_and_follows_the_teacher_spec(ft_repo: Path) -> None:
    before = training_data_hash(_specs(ft_repo), "triage-distill")
    _edit(ft_repo / "specs" / "triage.yaml", "teacher: hosted", "teacher: small")
    assert training_data_hash(_specs(ft_repo), "triage-distill") != before


def test_corrections_become_an_sft_file_sorted_by_item_id(ft_repo: Path) -> None:
    specs = _specs(ft_repo)
    items = {i.id: i for i in specs.data["tickets"].items}
    prompt = specs.prompts["triage"].doc.spec
    pairs = [(items["t02"], "return_policy"), (items["t01"], "other"), (items["t01"], "order_status")]
    out = write_corrections(prompt, pairs, ft_repo / "fix.jsonl")
    rows = _lines(out.path)
    assert (out.method, out.n_examples, [i.item_id for i in out.inputs]) == ("sft", 2, ["t01", "t02"])
    assert rows[0]["messages"][1:] == [
        {"role": "user", "content": "Where is my package? Order 1001 has not moved in days."},
        {"role": "assistant", "content": "order_status"},
    ]


def test_recipe_hash_is_what_changes_the_trained_model(ft_repo: Path) -> None:
    spec_file = ft_repo / "specs/triage.yaml"
    before = recipe_hash(_specs(ft_repo), "triage-rft", "d" * 64)
    assert recipe_hash(_specs(ft_repo), "triage-rft", "e" * 64) != before  # the training data

    _edit(spec_file, "  operation: eq\n", "  operation: ne\n")  # the reward grader's content, not its name
    assert recipe_hash(_specs(ft_repo), "triage-rft", "d" * 64) != before

    _edit(spec_file, "  operation: ne\n", "  operation: eq\n")
    text = spec_file.read_text(encoding="utf-8")
    spec_file.write_text(
        text.replace(
            "  graders: [label-exact]\n  training:",
            "  graders: [label-exact]\n  triggers:\n    - type: dataset_changed\n  training:",
            1,
        )
    )
    assert "triggers" in spec_file.read_text(encoding="utf-8")
    assert recipe_hash(_specs(ft_repo), "triage-rft", "d" * 64) == before  # when to train is not what is trained
