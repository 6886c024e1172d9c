"""A deterministic fine-tuning backend for testing the layers above (plan, apply, promotion) without a provider.

The job lives in `<work_dir>/fake-job.json`, so a fresh `FakeBackend` (a resumed apply) finds it. A job succeeds
after `polls` polls as `<base>-fake-<hash[:8]>`, or fails with `fail` as its error. Same reuse rule as the
openai backend: a failed or cancelled job is never reused, so the next `submit` starts a new one.
"""

from __future__ import annotations

import json
from typing import Any

from runner.errors import FinetuneError
from runner.finetune.backends.base import DEAD, JobRequest, JobStatus, Progress
from runner.fsutil import atomic_write_text

_FILE = "fake-job.json"


class FakeBackend:
    """`Backend` that trains nothing; `creates` counts the jobs it started."""

    name = "fake"

    def __init__(self, *, polls: int = 2, fail: str | None = None) -> None:
        self.polls = polls
        self.fail = fail
        """When set, jobs end `failed` with this error instead of succeeding."""
        self.creates = 0

    def find(self, request: JobRequest) -> JobStatus | None:
        record = self._load(request)
        if record is None or record["status"] in DEAD:
            return None
        return self._status(record, request)

    def submit(self, request: JobRequest) -> JobStatus:
        found = self.find(request)
        if found is not None:
            return found
        if not request.training_file.is_file():
            raise FinetuneError(f"FineTune/{request.recipe}: no training file at {request.training_file}")
        previous = self._load(request)
        attempt = (previous or {}).get("attempt", 0) + 1
        record = {
            "job_id": f"fake-{request.recipe_hash[:8]}-{attempt}",
            "recipe_hash": request.recipe_hash,
            "base_model": request.base_model,
            "attempt": attempt,
            "polls": 0,
            "status": "queued",
        }
        self.creates += 1
        self._save(request, record)
        return self._status(record, request)

    def wait(self, job: JobStatus, request: JobRequest, progress: Progress | None = None) -> JobStatus:
        record = self._load(request)
        if record is None or record["job_id"] != job.job_id:
            raise FinetuneError(f"FineTune/{request.recipe}: the fake backend has no job {job.job_id}")
        status = self._status(record, request)
        while not status.done:
            record["polls"] += 1
            if record["polls"] >= self.polls:
                record["status"] = "failed" if self.fail is not None else "succeeded"
            else:
                record["status"] = "running"
            self._save(request, record)
            status = self._status(record, request)
            if progress is not None:
                progress(status)
        return status

    def _status(self, record: dict[str, Any], request: JobRequest) -> JobStatus:
        succeeded = record["status"] == "succeeded"
        failed = record["status"] == "failed"
        return JobStatus(
            backend=self.name,
            job_id=record["job_id"],
            status=record["status"],
            recipe_hash=record["recipe_hash"],
            fine_tuned_model=f"{record['base_model']}-fake-{record['recipe_hash'][:8]}" if succeeded else None,
            trained_tokens=100 * record["polls"] if succeeded else None,
            error=self.fail if failed else None,
            events=[
                {"created_at": i, "level": "info", "message": f"poll {i}", "type": "message", "data": None}
                for i in range(1, record["polls"] + 1)
            ],
            metrics=[{"step": i, "train_loss": round(1 / (i + 1), 4)} for i in range(1, record["polls"] + 1)],
        )

    @staticmethod
    def _load(request: JobRequest) -> dict[str, Any] | None:
        path = request.work_dir / _FILE
        if not path.is_file():
            return None
        record: dict[str, Any] = json.loads(path.read_text())
        return record if record.get("recipe_hash") == request.recipe_hash else None

    @staticmethod
    def _save(request: JobRequest, record: dict[str, Any]) -> None:
        request.work_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(request.work_dir / _FILE, json.dumps(record, sort_keys=True, indent=2) + "\n")
