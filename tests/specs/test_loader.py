"""The loader: a valid tree loads with positions; every problem is reported at once; inputs it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import SpecError, UsageError
from runner.specs.loader import load_specs
from runner.specs.yamlpos import load_yaml_documents


def test_mini_fixture_loads_with_positions_and_items(mini_repo: Path) -> None:
    specs = load_specs([Path("specs")])
    assert specs.counts() == {"Model": 2, "Prompt": 1, "Dataset": 1, "Grader": 4, "Eval": 1, "FineTune": 1}
    assert specs.files == ("specs/models.yaml", "specs/triage.yaml")
    ev = specs.evals["triage"]
    assert (ev.shown, ev.line) == ("specs/triage.yaml", 77)
    assert ev.line_of(("spec", "metrics", 0, "grader")) == 88
    tickets = specs.data["tickets"]
    assert [i.id for i in tickets.select("test")] == ["t3", "t4", "t5"]
    assert tickets.splits == ("test", "train")
    assert tickets.items[0].line == 1
    assert specs.root == mini_repo.resolve()


def test_every_problem_is_reported_not_only_the_first(mini_repo: Path) -> None:
    models = mini_repo / "specs/models.yaml"
    models.write_text(models.read_text().replace("temperature: 0", "temperature: -1"))
    triage = mini_repo / "specs/triage.yaml"
    triage.write_text(triage.read_text().replace("operation: eq\n---", "operation: like\n  extra: 1\n---"))
    with pytest.raises(SpecError) as info:
        load_specs([Path("specs")])
    assert [d.headline() for d in info.value.diagnostics] == [
        "specs/models.yaml:9:18: Model/small -> spec -> parameters -> temperature: "
        "input should be greater than or equal to 0, got -1",
        "specs/triage.yaml:35:3: Grader/exact -> spec -> extra: unknown key 'extra'; "
        "allowed keys: input, name, operation, reference, type",
    ]


def test_rendered_error_has_a_snippet_with_a_caret(mini_repo: Path) -> None:
    triage = mini_repo / "specs/triage.yaml"
    triage.write_text(triage.read_text().replace("grader: exact\n", "grader: exatc\n"))
    with pytest.raises(SpecError) as info:
        load_specs([Path("specs")])
    assert info.value.render() == (
        "specs/triage.yaml:88:15: Eval/triage -> spec -> metrics -> accuracy -> grader: "
        "unknown Grader 'exatc'; did you mean 'exact'?\n"
        "   88 |       grader: exatc\n"
        "      |               ^\n"
        "flywheel: 1 error in 1 file"
    )


def test_file_that_is_not_utf8_is_an_error(mini_repo: Path) -> None:
    (mini_repo / "specs/latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(SpecError) as info:
        load_specs([Path("specs")])
    assert [d.headline() for d in info.value.diagnostics] == [
        "specs/latin1.yaml:1:10: not UTF-8 text (byte 0xe9: invalid continuation byte); save it as UTF-8"
    ]


def test_missing_path_and_empty_folder_are_usage_errors(mini_repo: Path) -> None:
    with pytest.raises(UsageError, match="nope: no such file or folder"):
        load_specs([Path("nope")])
    (mini_repo / "empty").mkdir()
    with pytest.raises(UsageError, match=r"no spec files \(\*.yaml, \*.yml\) under empty"):
        load_specs([Path("empty")])


def test_hidden_folders_are_skipped_and_single_files_load(mini_repo: Path) -> None:
    hidden = mini_repo / "specs/.cache"
    hidden.mkdir()
    (hidden / "junk.yaml").write_text("this: [is not valid")
    assert load_specs([Path("specs")]).counts()["Model"] == 2
    assert load_specs([Path("specs/models.yaml")]).counts() == {
        "Model": 2,
        "Prompt": 0,
        "Dataset": 0,
        "Grader": 0,
        "Eval": 0,
        "FineTune": 0,
    }


def test_many_bad_lines_are_summarised(mini_repo: Path) -> None:
    data = mini_repo / "specs/tickets.jsonl"
    data.write_text(data.read_text() + "not json\n" * 25)
    with pytest.raises(SpecError) as info:
        load_specs([Path("specs")])
    lines = [d.headline() for d in info.value.diagnostics]
    assert len(lines) == 21
    assert "Dataset/tickets: ... and 5 more bad lines" in lines[0]


def test_yaml_is_read_as_1_2_so_yes_and_no_stay_strings(mini_repo: Path) -> None:
    triage = mini_repo / "specs/triage.yaml"
    triage.write_text(triage.read_text().replace("choices: [order_status, other]", "choices: [yes, no, on, off]"))
    specs = load_specs([Path("specs")])
    assert specs.prompts["triage"].doc.spec.choices == ["yes", "no", "on", "off"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("False", False),
        ("yes", "yes"),
        ("Off", "Off"),
        ("y", "y"),
        ("0755", 755),
        ("0o755", 0o755),
        ("0x1F", 31),
        ("1:30", "1:30"),
        ("1e-3", 0.001),
        ("-.5", -0.5),
        ("1_000", "1_000"),
        ("~", None),
        ("'yes'", "yes"),
        ("!!str 12", "12"),
    ],
)
def test_yaml_core_schema_scalars(text: str, value: object) -> None:
    [doc] = load_yaml_documents(f"v: {text}\n")
    assert doc.data == {"v": value}
    assert type(doc.data["v"]) is type(value)
