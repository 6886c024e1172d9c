"""Result documents and baselines through their models: today's files read back and rewrite byte for byte,
items stream lazily, and damaged, foreign or newer files are refused with the file, the line and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.documents.io import iter_items, parse_baseline, read_header, read_result, write_document
from runner.documents.results import RESULT_VERSION, BaselineItem, ItemRecord
from runner.errors import DocumentError
from tests.conftest import FIXTURES

V1_RESULT = FIXTURES / "documents" / "result-v1.json"
V1_BASELINE = FIXTURES / "documents" / "baseline-v1.json"


def test_a_version_1_result_reads_into_the_models() -> None:
    doc = read_result(V1_RESULT)
    assert (doc.header.kind, doc.header.eval, doc.header.model.ref) == ("EvalResult", "words", "fake")
    assert doc.header.metrics["accuracy"].value == 0.5
    assert doc.header.metrics["accuracy"].ci_method == "wilson"
    assert len(doc.items) == doc.header.n_items == 20
    first = doc.items[0]
    assert isinstance(first, ItemRecord)
    assert (first.id, first.output, first.scores["accuracy"].pass_) == ("w00", "apple", 1.0)


def test_version_1_items_migrate_with_empty_per_sample_fields() -> None:
    first = read_result(V1_RESULT).items[0]
    assert (first.input_ref, first.references, first.reasons, first.latency_s, first.tokens, first.capped) == (
        None,
        {},
        {},
        None,
        None,
        {},
    )


def test_a_migrated_document_is_written_at_the_current_version_with_the_same_values(tmp_path: Path) -> None:
    doc = read_result(V1_RESULT)
    out = tmp_path / "again.json"
    write_document(out, doc.header, doc.items)
    again = read_result(out)
    assert again == doc
    assert json.loads(out.read_text())["version"] == RESULT_VERSION == 3
    old, new = json.loads(V1_RESULT.read_text()), json.loads(out.read_text())
    assert (new["failed_cells"], new["failed_items"]) == (0, 0)
    assert {i["status"] for i in new["items"]} == {"ok"}
    added = ("items", "version", "failed_cells", "failed_items")
    assert {k: v for k, v in new.items() if k not in added} == {
        k: v for k, v in old.items() if k not in ("items", "version")
    }
    baseline = parse_baseline(V1_BASELINE.read_text(), "baselines/words/fake.json on main")
    write_document(out, baseline.header, baseline.items)
    assert out.read_text() == V1_BASELINE.read_text().replace('"version":1,', '"version":3,')


def test_a_version_2_result_migrates_with_no_failed_cells_and_every_item_ok(tmp_path: Path) -> None:
    doc = read_result(V1_RESULT)
    current = tmp_path / "v3.json"
    write_document(current, doc.header, doc.items)
    text = current.read_text()
    for field in ('"failed_cells":0,', '"failed_items":0,', '"status":"ok",'):
        assert field in text
        text = text.replace(field, "")
    v2 = tmp_path / "v2.json"
    v2.write_text(text.replace('"version":3,', '"version":2,'))
    again = read_result(v2)
    assert (again.header.failed_cells, again.header.failed_items, again.header.version) == (0, 0, 3)
    assert again == read_result(current)


def test_the_whole_file_is_still_one_json_value() -> None:
    data = json.loads(V1_RESULT.read_text())
    assert data["items"][1]["id"] == "w01"


def test_the_header_is_read_without_touching_the_items(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    lines = V1_RESULT.read_text().splitlines()
    path.write_text("\n".join([lines[0], "this is not an item"]) + "\n")
    assert read_header(path).n_items == 20
    items = iter_items(path)
    with pytest.raises(DocumentError) as err:
        next(items)
    assert str(err.value).startswith(f"{path}:2: invalid JSON (Expecting value: line 1 column 1 (char 0)); ")


def _with_header(tmp_path: Path, **changes: object) -> Path:
    lines = V1_RESULT.read_text().splitlines()
    head = json.loads(lines[0].removesuffix(',"items":[') + "}")
    head.update(changes)
    head = {k: v for k, v in head.items() if v is not None}
    path = tmp_path / "r.json"
    path.write_text("\n".join([json.dumps(head)[:-1] + ',"items":[', *lines[1:]]) + "\n")
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"version": 7},
            "{path}:1: written by a newer Flywheel (document version 7; this one reads up to version 3); "
            "upgrade: pip install -U flywheel-evals",
        ),
        (
            {"version": None},
            "{path}:1: not a Flywheel result document (no integer `version`); re-create it with this Flywheel "
            "(flywheel run EVAL, or flywheel baseline update for baselines)",
        ),
        (
            {"version": 0},
            "{path}:1: unknown document version 0; re-create it with this Flywheel",
        ),
        (
            {"n_items": -1},
            "{path}:1: n_items: Input should be greater than or equal to 0; re-create it: flywheel run EVAL",
        ),
        (
            {"kind": "Baseline"},
            "{path}:1: kind: Input should be 'EvalResult' (and 2 more); re-create it: flywheel run EVAL",
        ),
    ],
    ids=["newer", "unversioned", "version-0", "bad-field", "wrong-kind"],
)
def test_unreadable_headers_are_refused_with_the_file_and_the_fix(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    path = _with_header(tmp_path, **changes)
    with pytest.raises(DocumentError) as err:
        read_header(path)
    assert str(err.value) == message.format(path=path)


def test_a_damaged_item_names_its_line_and_id(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    text = V1_RESULT.read_text().replace('"id":"w03","output":"wrong"', '"id":"w03","output":7', 1)
    assert '"output":7' in text
    path.write_text(text)
    with pytest.raises(DocumentError) as err:
        read_result(path)
    assert str(err.value) == (
        f"{path}:5: item 'w03' -> output: Input should be a valid string; re-create it: flywheel run EVAL"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "{source}:1: not a Flywheel result document (the first line must be the header); {fix}"),
        ('{"items":[1]}', "{source}:1: not a Flywheel result document (the first line must be the header); {fix}"),
        ("[1" + ',"items":[', "{source}:1: invalid JSON (Expecting ',' delimiter: line 1 column 3 (char 2)); {fix}"),
    ],
    ids=["empty", "one-line", "not-json"],
)
def test_foreign_baselines_are_refused(text: str, message: str) -> None:
    source = "baselines/words/fake.json on main"
    with pytest.raises(DocumentError) as err:
        parse_baseline(text, source)
    fix = "re-create it on main: flywheel apply && flywheel baseline update"
    assert str(err.value) == message.format(source=source, fix=fix)


def test_a_truncated_baseline_is_refused() -> None:
    text = "\n".join(V1_BASELINE.read_text().splitlines()[:-1])
    with pytest.raises(DocumentError) as err:
        parse_baseline(text, "b.json")
    assert str(err.value) == "b.json: truncated (no closing `]}` line); re-create it: flywheel run EVAL"


def test_baseline_items_hold_scores_only() -> None:
    doc = parse_baseline(V1_BASELINE.read_text(), "b")
    assert all(type(i) is BaselineItem for i in doc.items)
    assert doc.items[0].model_dump(by_alias=True) == {"id": "w00", "scores": {"accuracy": {"score": 1.0, "pass": 1.0}}}
