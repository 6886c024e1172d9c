"""Record / replay cassettes: the responses a run used, keyed like the cache, as a diffable JSONL file.

`--record DIR` writes `DIR/cassette.jsonl` (merged with what is there, sorted by key, one response per line);
`--replay DIR` answers every model call from it with no network at all and fails on the first miss. CI on fork
pull requests and under `act` runs this way, with no key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runner.errors import ReplayMissError, UsageError
from runner.fsutil import atomic_write_text

FILE = "cassette.jsonl"


class Cassette:
    """An in-memory cassette, loaded from and saved to `folder / cassette.jsonl`."""

    def __init__(self, folder: Path, entries: dict[str, dict[str, Any]]) -> None:
        self.folder = folder
        self.entries = entries

    @classmethod
    def load(cls, folder: Path, *, must_exist: bool) -> Cassette:
        path = folder / FILE
        if not path.is_file():
            if must_exist:
                raise UsageError(f"{path}: no cassette to replay; record one with: flywheel run EVAL --record {folder}")
            return cls(folder, {})
        entries: dict[str, dict[str, Any]] = {}
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                entries[str(row["key"])] = dict(row["response"])
            except (ValueError, KeyError, TypeError):
                raise UsageError(f"{path}:{n}: not a cassette line; re-record with --record {folder}") from None
        return cls(folder, entries)

    def replay(self, key: str, what: str) -> dict[str, Any]:
        """The recorded response for `key`; `what` names the call in the error when it is missing."""
        found = self.entries.get(key)
        if found is None:
            raise ReplayMissError(
                f"{self.folder / FILE}: no recorded response for {what} (key {key[:12]}); "
                f"nothing was sent; re-record with: flywheel run ... --record {self.folder}"
            )
        return found

    def add(self, key: str, response: Mapping[str, Any]) -> None:
        self.entries[key] = dict(response)

    def save(self) -> None:
        """Write the cassette atomically, sorted by key, one canonical JSON line per response."""
        self.folder.mkdir(parents=True, exist_ok=True)
        lines = [
            json.dumps(
                {"key": k, "response": self.entries[k]}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            )
            for k in sorted(self.entries)
        ]
        atomic_write_text(self.folder / FILE, "\n".join(lines) + ("\n" if lines else ""))
