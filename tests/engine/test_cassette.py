"""Cassettes directly: a round trip is sorted and canonical, merges keep old entries, a miss names the key and
sends nothing, a damaged line names its line, and replaying needs the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.engine.cassette import FILE, Cassette
from runner.errors import ReplayMissError, UsageError


def test_saved_sorted_canonical_and_loaded_back(tmp_path: Path) -> None:
    tape = Cassette.load(tmp_path / "tape", must_exist=False)
    assert tape.entries == {}
    tape.add("k2", {"text": "dos", "usage": {"out": 2, "in": 1}})
    tape.add("k1", {"text": "ünø"})
    tape.save()
    assert (tmp_path / "tape" / FILE).read_text(encoding="utf-8") == (
        '{"key":"k1","response":{"text":"ünø"}}\n{"key":"k2","response":{"text":"dos","usage":{"in":1,"out":2}}}\n'
    )
    again = Cassette.load(tmp_path / "tape", must_exist=True)
    assert again.replay("k2", "the call") == {"text": "dos", "usage": {"out": 2, "in": 1}}


def test_recording_again_merges_with_what_is_there(tmp_path: Path) -> None:
    first = Cassette.load(tmp_path, must_exist=False)
    first.add("a", {"text": "1"})
    first.save()
    second = Cassette.load(tmp_path, must_exist=False)
    second.add("b", {"text": "2"})
    second.add("a", {"text": "1 again"})  # a re-recorded call replaces its line
    second.save()
    assert Cassette.load(tmp_path, must_exist=True).entries == {"a": {"text": "1 again"}, "b": {"text": "2"}}


def test_an_empty_cassette_is_an_empty_file(tmp_path: Path) -> None:
    Cassette.load(tmp_path, must_exist=False).save()
    assert (tmp_path / FILE).read_text() == ""


def test_a_miss_names_the_call_and_the_key_and_how_to_re_record(tmp_path: Path) -> None:
    tape = Cassette(tmp_path, {"known": {"text": "x"}})
    with pytest.raises(ReplayMissError) as err:
        tape.replay("0123456789abcdef0123", "triage item t3")
    assert str(err.value) == (
        f"{tmp_path / FILE}: no recorded response for triage item t3 (key 0123456789ab); nothing was sent; "
        f"re-record with: flywheel run ... --record {tmp_path}"
    )


def test_replaying_needs_the_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as err:
        Cassette.load(tmp_path, must_exist=True)
    assert str(err.value) == (
        f"{tmp_path / FILE}: no cassette to replay; record one with: flywheel run EVAL --record {tmp_path}"
    )


@pytest.mark.parametrize("line", ["not json", '{"response": {}}', '{"key": "k", "response": 3}', "[1]"])
def test_a_damaged_line_is_named(tmp_path: Path, line: str) -> None:
    (tmp_path / FILE).write_text('{"key":"a","response":{}}\n\n' + line + "\n")
    with pytest.raises(UsageError) as err:
        Cassette.load(tmp_path, must_exist=True)
    assert str(err.value) == f"{tmp_path / FILE}:3: not a cassette line; re-record with --record {tmp_path}"
