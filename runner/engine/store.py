"""The run store (SQLite, stdlib): the response cache and the journal of completed cells.

Both live in one WAL-mode database under the state folder. Every paid response is committed the moment it
arrives, so a run killed with `kill -9` never pays for it again; the journal records each graded cell so a
resumed run skips it entirely. Only responses and graded records are stored: never request headers or keys.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    response TEXT NOT NULL,
    cost_usd REAL NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cells (
    run_id TEXT NOT NULL,
    cell TEXT NOT NULL,
    seq INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (run_id, cell)
);
"""


class Store:
    """Response cache + cell journal. Thread-safe; one connection guarded by a lock (calls are short)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a committed transaction survives a killed process (only power loss can lose it).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- response cache ---------------------------------------------------------------------------------------
    def get_response(self, key: str) -> dict[str, Any] | None:
        """The cached response JSON for `key`, or None."""
        with self._lock:
            row = self._db.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def has_response(self, key: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM responses WHERE key = ?", (key,)).fetchone() is not None

    def put_response(self, key: str, response: Mapping[str, Any], cost_usd: float) -> None:
        """Store a paid response at once (autocommit)."""
        text = json.dumps(response, separators=(",", ":"), ensure_ascii=False)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, response, cost_usd, created) VALUES (?, ?, ?, ?)",
                (key, text, cost_usd, time.time()),
            )

    # -- journal ----------------------------------------------------------------------------------------------
    def completed(self, run_id: str) -> set[str]:
        """Cells of `run_id` already graded and recorded (failed cells are not: the next run retries them)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT cell FROM cells WHERE run_id = ? AND coalesce(json_extract(record, '$.status'), '') != ?",
                (run_id, "failed"),
            ).fetchall()
        return {r[0] for r in rows}

    def failed(self, run_id: str) -> set[str]:
        """Cells of `run_id` journaled as failed after their retries."""
        with self._lock:
            rows = self._db.execute(
                "SELECT cell FROM cells WHERE run_id = ? AND json_extract(record, '$.status') = ?", (run_id, "failed")
            ).fetchall()
        return {r[0] for r in rows}

    def forget_run(self, run_id: str) -> None:
        """Drop the journal of `run_id` (a `--no-cache` run starts from scratch)."""
        with self._lock:
            self._db.execute("DELETE FROM cells WHERE run_id = ?", (run_id,))

    def record_cell(self, run_id: str, cell: str, seq: int, record: Mapping[str, Any]) -> None:
        """Journal one graded cell (autocommit); `seq` orders records as the dataset does."""
        text = json.dumps(record, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO cells (run_id, cell, seq, record) VALUES (?, ?, ?, ?)",
                (run_id, cell, seq, text),
            )

    def records(self, run_id: str) -> Iterator[dict[str, Any]]:
        """Journaled records of `run_id` in dataset order, streamed (constant memory)."""
        with self._lock:
            cursor = self._db.cursor()
        cursor.execute("SELECT record FROM cells WHERE run_id = ? ORDER BY seq, cell", (run_id,))
        while True:
            with self._lock:
                rows = cursor.fetchmany(500)
            if not rows:
                return
            for (text,) in rows:
                yield json.loads(text)
