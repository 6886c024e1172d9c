"""The committed ledgers (history, lineage) through their models: today's lines read as version 1, new lines carry
their version while old ones stay byte for byte, and forged, damaged or newer lines are refused with the line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runner.baselines.ledger import append_unique, read_ledger
from runner.documents.ledgers import HISTORY_LINE, LINEAGE_LINE, HistoryEntry, LineageEntry
from runner.errors import DocumentError
from tests.conftest import FIXTURES

HISTORY_V1 = FIXTURES / "documents" / "history-v1.jsonl"
LINEAGE_V1 = FIXTURES / "documents" / "lineage-v1.jsonl"


def test_todays_history_lines_read_as_version_1() -> None:
    entries = read_ledger(HISTORY_V1, HISTORY_LINE)
    assert [(e.version, e.eval, e.model, e.model_id) for e in entries] == [
        (1, "upper", "student_at_champion", "student-base")
    ] * 2
    accuracy = entries[0].metrics["accuracy"]
    assert (accuracy.value, accuracy.n, accuracy.floor_ok) == (0.325, 40, False)
    assert entries[1].commit == "912cc519b07941f1dfd430da149e3ceb8776e538"


def test_todays_lineage_lines_read_as_version_1() -> None:
    entries = read_ledger(LINEAGE_V1, LINEAGE_LINE)
    assert [(e.decision, e.model_id, e.eval) for e in entries] == [
        ("kept", "student-base-fake-41ea072c", "upper"),
        ("promoted", "student-base-fake-41ea072c", "upper"),
        ("failed", None, None),
    ]
    kept = entries[0].metrics[0]
    assert (kept.name, kept.champion, kept.challenger, kept.p_better, kept.verdict) == (
        "accuracy",
        0.325,
        0.375,
        0.25,
        "PASS",
    )
    assert set(entries[1].reports) == {"champion", "challenger"}
    assert (entries[2].reports, entries[2].metrics) == ({}, [])


def test_new_lines_carry_their_version_and_old_lines_stay_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "lineage.jsonl"
    shutil.copy(LINEAGE_V1, path)
    old = path.read_text()
    first = json.loads(old.splitlines()[0])
    again = first | {"job_id": "fake-2", "decision": "promoted"}
    key = lambda e: (e.recipe, e.job_id, e.decision)  # noqa: E731
    assert append_unique(path, LINEAGE_LINE, [first], key) is False  # recorded already
    assert append_unique(path, LINEAGE_LINE, [again, again], key) is True
    text = path.read_text()
    assert text.startswith(old)
    new = json.loads(text[len(old) :])
    assert (new["version"], new["job_id"], new["decision"]) == (1, "fake-2", "promoted")
    assert read_ledger(path, LINEAGE_LINE)[-1] == LineageEntry.model_validate(again)


def test_an_entry_that_breaks_the_model_is_never_written(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    with pytest.raises(ValueError, match="metrics"):
        append_unique(path, HISTORY_LINE, [{"eval": "e", "model": "m"}], lambda e: e.eval)
    assert not path.exists()


_FIX = "fix or remove the line (git log -p baselines/history.jsonl)"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            '{"version": 2}',
            "{path}:2: written by a newer Flywheel (history line version 2; this one reads up to version 1); "
            "upgrade: pip install -U flywheel-evals",
        ),
        ('{"version": 0}', "{path}:2: unknown history line version 0; " + _FIX),
        ('{"version": "1"}', "{path}:2: not a Flywheel history line (no integer `version`); " + _FIX),
        ("[1, 2]", "{path}:2: not a Flywheel history line (not a JSON object); " + _FIX),
        (
            "{",
            "{path}:2: invalid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1)); "
            + _FIX,
        ),
        ('{"eval": "upper"}', "{path}:2: commit: Field required (and 5 more); " + _FIX),
        (
            HISTORY_V1.read_text().splitlines()[0].replace('"n":40', '"n":-1'),
            "{path}:2: metrics -> accuracy -> n: Input should be greater than or equal to 0; " + _FIX,
        ),
        (
            HISTORY_V1.read_text().splitlines()[0].replace('"run_id"', '"injected":1,"run_id"'),
            "{path}:2: injected: Extra inputs are not permitted; " + _FIX,
        ),
    ],
    ids=["newer", "version-0", "string-version", "not-an-object", "not-json", "missing", "bad-value", "unknown-key"],
)
def test_forged_or_damaged_lines_are_refused_with_their_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text(HISTORY_V1.read_text().splitlines()[0] + "\n" + line + "\n")
    with pytest.raises(DocumentError) as err:
        read_ledger(path, HISTORY_LINE)
    assert str(err.value) == message.format(path=path)


def test_a_missing_ledger_is_empty(tmp_path: Path) -> None:
    assert read_ledger(tmp_path / "history.jsonl", HISTORY_LINE) == []
    assert HistoryEntry.model_fields["version"].default == 1
