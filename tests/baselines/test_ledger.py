"""The committed JSONL ledgers: append once per key, old lines kept byte for byte, canonical new lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runner.baselines.ledger import append_history, history_path, read_history


def _entry(commit: str, value: float = 0.5) -> dict[str, Any]:
    return {
        "commit": commit,
        "created": None,
        "eval": "e",
        "model": "m",
        "model_id": "m-1",
        "metrics": {"acc": {"value": value, "n": 4, "floor_ok": None}},
        "run_id": None,
    }


def test_append_records_each_key_once(tmp_path: Path) -> None:
    assert read_history(tmp_path) == []
    assert append_history(tmp_path, [_entry("c1"), _entry("c1", 0.9)]) is True
    assert history_path(tmp_path).read_text(encoding="utf-8") == (
        '{"commit":"c1","created":null,"eval":"e","metrics":{"acc":{"floor_ok":null,"n":4,"value":0.5}},'
        '"model":"m","model_id":"m-1","run_id":null,"version":1}\n'
    )  # canonical; a repeated key within the batch once
    assert append_history(tmp_path, [_entry("c1", 0.7)]) is False
    assert append_history(tmp_path, [_entry("c2")]) is True
    assert [(e.commit, e.metrics["acc"].value) for e in read_history(tmp_path)] == [("c1", 0.5), ("c2", 0.5)]


def test_old_lines_are_kept_as_they_are(tmp_path: Path) -> None:
    path = history_path(tmp_path)
    path.parent.mkdir()
    hand = (
        '{"commit": "c0",  "created": null, "eval": "e", "model": "m", "model_id": "m-1", "run_id": null, '
        '"metrics": {}}'
    )
    path.write_text(hand, encoding="utf-8")  # hand-edited, no version (a line from before lines had one), no newline
    assert append_history(tmp_path, [_entry("c1")]) is True
    assert path.read_text(encoding="utf-8").startswith(hand + "\n{")
    assert [e.commit for e in read_history(tmp_path)] == ["c0", "c1"]
