"""The fake fine-tuning backend: deterministic, resumable from work_dir, same reuse rule as the real ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import FinetuneError
from runner.finetune.backends.base import JobRequest, JobStatus
from runner.finetune.backends.fake import FakeBackend
from runner.specs.finetune import Hyperparameters

HASH = "feedbeef" + "1" * 56


def make_request(tmp_path: Path) -> JobRequest:
    train = tmp_path / "train.jsonl"
    train.write_text('{"messages": []}\n')
    return JobRequest(
        recipe="triage",
        recipe_hash=HASH,
        method="sft",
        base_model="smollm2-135m-instruct",
        training_file=train,
        hyperparameters=Hyperparameters(),
        work_dir=tmp_path / "work",
    )


def test_succeeds_after_n_polls(tmp_path: Path) -> None:
    request = make_request(tmp_path)
    backend = FakeBackend(polls=3)
    seen: list[JobStatus] = []
    final = backend.wait(backend.submit(request), request, progress=seen.append)
    assert [s.status for s in seen] == ["running", "running", "succeeded"]
    assert (final.backend, final.job_id, final.fine_tuned_model) == (
        "fake",
        "fake-feedbeef-1",
        "smollm2-135m-instruct-fake-feedbeef",
    )
    assert final.error is None and final.trained_tokens == 300
    assert [m["step"] for m in final.metrics] == [1, 2, 3]


def test_find_or_create_survives_a_new_backend_object(tmp_path: Path) -> None:
    request = make_request(tmp_path)
    first = FakeBackend()
    assert first.find(request) is None
    job = first.submit(request)
    assert first.submit(request).job_id == job.job_id
    resumed = FakeBackend()
    assert resumed.wait(resumed.submit(request), request).status == "succeeded"
    assert (first.creates, resumed.creates) == (1, 0)


def test_failed_job_is_reported_then_retried(tmp_path: Path) -> None:
    request = make_request(tmp_path)
    failing = FakeBackend(fail="fake: out of budget")
    final = failing.wait(failing.submit(request), request)
    assert (final.status, final.error, final.fine_tuned_model) == ("failed", "fake: out of budget", None)
    assert failing.find(request) is None
    retry = FakeBackend()
    job = retry.submit(request)
    assert (job.job_id, retry.creates) == ("fake-feedbeef-2", 1)
    assert retry.wait(job, request).status == "succeeded"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no training file", "FineTune/triage: no training file at {tmp}/train.jsonl"),
        ("unknown job", "FineTune/triage: the fake backend has no job fake-nope"),
    ],
)
def test_errors(tmp_path: Path, case: str, expected: str) -> None:
    request = make_request(tmp_path)
    backend = FakeBackend()
    with pytest.raises(FinetuneError) as info:
        if case == "no training file":
            request.training_file.unlink()
            backend.submit(request)
        else:
            backend.wait(JobStatus("fake", "fake-nope", "queued", HASH), request)
    assert str(info.value) == expected.format(tmp=tmp_path)
