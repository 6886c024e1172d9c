"""The committed JSONL ledgers: append once per key, old lines kept byte for byte, canonical new lines."""

from __future__ import annotations

from pathlib import Path

from runner.baselines.ledger import append_unique, read_jsonl


def _key(entry: object) -> object:
    assert isinstance(entry, dict)
    return entry["id"]


def test_append_unique_records_each_key_once(tmp_path: Path) -> None:
    path = tmp_path / "baselines" / "ledger.jsonl"
    assert read_jsonl(path) == []

    assert append_unique(path, [{"id": 1, "b": "é", "a": 0}, {"id": 1, "a": 9}], _key) is True
    assert (
        path.read_text(encoding="utf-8") == '{"a":0,"b":"é","id":1}\n'
    )  # canonical; a repeated key within the batch once
    assert append_unique(path, [{"id": 1, "a": 5}], _key) is False
    assert append_unique(path, [{"id": 2}], _key) is True
    assert read_jsonl(path) == [{"a": 0, "b": "é", "id": 1}, {"id": 2}]


def test_old_lines_are_kept_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_text('{"id": 1,  "hand": "edited"}', encoding="utf-8")  # no final newline

    assert append_unique(path, [{"id": 2}], _key) is True
    assert path.read_text(encoding="utf-8") == '{"id": 1,  "hand": "edited"}\n{"id":2}\n'
