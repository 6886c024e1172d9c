"""The openai fine-tuning backend, driven through the real SDK against the in-repo fake server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import openai
import pytest

from runner.errors import FinetuneError
from runner.finetune.backends.base import JobRequest, JobStatus
from runner.finetune.backends.openai import OpenAIBackend
from runner.specs.finetune import Hyperparameters, Method
from runner.testing.fake_finetune import JobScript
from runner.testing.fake_openai import FakeOpenAI

KEY = "sk-flywheel-test-KEY-must-not-leak-7f3a9c"
HASH = "ab12cd34" + "0" * 56
CUTOFF = date(2027, 1, 6)
BEFORE = date(2026, 11, 22)
REPO = Path(__file__).parent.parent.parent
TRAIN = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "billing"}]}\n'
SLOW = JobScript(statuses=("validating_files", "queued", *["running"] * 40, "succeeded"))


class Clock:
    """Injected sleep + clock: records every sleep and advances time without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def make_client(fake: FakeOpenAI, max_retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(api_key=KEY, base_url=fake.base_url, max_retries=max_retries, timeout=5)


def make_backend(
    fake: FakeOpenAI, clock: Clock | None = None, today: date = BEFORE, **kw: Any
) -> tuple[OpenAIBackend, Clock]:
    clock = clock or Clock()
    client = kw.pop("client", None) or make_client(fake)
    backend = OpenAIBackend(client, today=lambda: today, cutoff=CUTOFF, sleep=clock.sleep, clock=clock.clock, **kw)
    return backend, clock


def make_request(tmp_path: Path, method: Method = "sft", recipe_hash: str = HASH, **kw: Any) -> JobRequest:
    train = tmp_path / "train.jsonl"
    train.write_text(TRAIN)
    defaults: dict[str, Any] = {
        "recipe": "triage",
        "recipe_hash": recipe_hash,
        "method": method,
        "base_model": "gpt-4o-mini-2024-07-18",
        "training_file": train,
        "hyperparameters": Hyperparameters(n_epochs=3),
        "work_dir": tmp_path / "work",
        "suffix": "triage",
    }
    return JobRequest(**{**defaults, **kw})


def test_submit_is_find_or_create_across_backend_objects(fake: FakeOpenAI, tmp_path: Path) -> None:
    request = make_request(tmp_path)
    backend, _ = make_backend(fake)
    assert backend.find(request) is None
    first = backend.submit(request)
    second = backend.submit(request)
    again, _ = make_backend(fake)  # a new process: nothing remembered but the hash
    third = again.submit(request)
    assert first.job_id == second.job_id == third.job_id
    assert (fake.finetune.creates, fake.finetune.uploads) == (1, 1)
    assert first.status == "validating_files" and first.backend == "openai" and first.recipe_hash == HASH
    body = fake.finetune.create_bodies[0]
    assert "hyperparameters" not in body  # deprecated top-level field
    assert body["metadata"] == {"flywheel_recipe_hash": HASH, "flywheel_recipe": "triage"}
    assert (body["model"], body["seed"], body["suffix"]) == ("gpt-4o-mini-2024-07-18", 0, "triage")
    upload = fake.finetune.job(first.job_id)["training_file"]
    assert fake.finetune.file_contents[upload] == TRAIN.encode()


def test_same_bytes_are_uploaded_once_across_recipes(fake: FakeOpenAI, tmp_path: Path) -> None:
    backend, _ = make_backend(fake)
    one = backend.submit(make_request(tmp_path, recipe_hash="1" * 64))
    two = backend.submit(make_request(tmp_path, recipe_hash="2" * 64))
    assert one.job_id != two.job_id
    assert (fake.finetune.creates, fake.finetune.uploads) == (2, 1)
    files = make_client(fake).files.list(purpose="fine-tune")
    assert [f.filename for f in files] == ["flywheel-2bbb1ab622f6ff75-train.jsonl"]


@pytest.mark.parametrize(
    ("method", "hyper", "extra", "expected"),
    [
        (
            "sft",
            Hyperparameters(n_epochs=3),
            {},
            {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}},
        ),
        (
            "distill",
            Hyperparameters(batch_size=4, learning_rate_multiplier=0.5),
            {},
            {
                "type": "supervised",
                "supervised": {"hyperparameters": {"batch_size": 4, "learning_rate_multiplier": 0.5}},
            },
        ),
        (
            "dpo",
            Hyperparameters(beta=0.1),
            {},
            {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}},
        ),
        (
            "rft",
            Hyperparameters(n_epochs=1, beta=0.3),  # beta is dpo-only: not sent
            {"grader": {"type": "string_check", "name": "exact", "operation": "eq"}, "validation": True},
            {
                "type": "reinforcement",
                "reinforcement": {
                    "hyperparameters": {"n_epochs": 1},
                    "grader": {"type": "string_check", "name": "exact", "operation": "eq"},
                },
            },
        ),
    ],
)
def test_method_object(
    fake: FakeOpenAI, tmp_path: Path, method: Method, hyper: Hyperparameters, extra: dict[str, Any], expected: Any
) -> None:
    kw: dict[str, Any] = {"hyperparameters": hyper}
    if extra.pop("validation", False):
        valid = tmp_path / "valid.jsonl"
        valid.write_text('{"messages": [{"role": "user", "content": "v"}]}\n')
        kw["validation_file"] = valid
    backend, _ = make_backend(fake)
    job = backend.submit(make_request(tmp_path, method=method, **kw, **extra))
    body = fake.finetune.create_bodies[0]
    assert body["method"] == expected
    assert ("validation_file" in body) == ("validation_file" in kw)
    if "validation_file" in kw:
        names = [f.filename for f in make_client(fake).files.list(purpose="fine-tune")]
        assert sorted(names) == ["flywheel-0d84d26eb02c0095-valid.jsonl", "flywheel-2bbb1ab622f6ff75-train.jsonl"]
    assert job.status == "validating_files"


def test_create_that_lands_then_drops_yields_one_job(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.finetune.drop_after_create = 1
    # The SDK's own retries stay on in this client: the backend must switch them off for create.
    backend, clock = make_backend(fake, client=make_client(fake, max_retries=2))
    job = backend.submit(make_request(tmp_path))
    assert fake.finetune.creates == 1
    assert fake.finetune.job_ids == [job.job_id]
    assert clock.sleeps == [5.0]  # one pause before looking the hash up again


def test_wait_polls_with_backoff_and_records_events_and_metrics(fake: FakeOpenAI, tmp_path: Path) -> None:
    request = make_request(tmp_path)
    backend, clock = make_backend(fake)
    job = backend.submit(request)
    seen: list[JobStatus] = []
    final = backend.wait(job, request, progress=seen.append)
    assert [s.status for s in seen] == ["queued", "running", "succeeded"]
    assert clock.sleeps == [5.0, 10.0]
    assert final.status == "succeeded" and final.error is None
    assert final.fine_tuned_model == f"ft:gpt-4o-mini-2024-07-18:fake-org:triage:{job.job_id[-6:]}"
    assert final.trained_tokens == 4242
    server_events = make_client(fake).fine_tuning.jobs.list_events(job.job_id, limit=3)
    assert [e["id"] for e in final.events] == [e.id for e in reversed(list(server_events))]  # deduped, oldest first
    assert [e["message"] for e in final.events] == [
        f"Created fine-tuning job: {job.job_id}",
        "Status: validating_files",
        "Status: queued",
        "Status: running",
        "Step 1/2: training loss=0.80",
        "Status: succeeded",
        "Step 2/2: training loss=0.40",
        "The job has successfully completed",
    ]
    assert final.events[4]["type"] == "metrics" and final.events[4]["data"] == {"step": 1, "train_loss": 0.8}
    prefix = f"ft:gpt-4o-mini-2024-07-18:fake-org::{job.job_id[-6:]}:ckpt-step-"
    assert final.metrics == [
        {"step": 1, "checkpoint": prefix + "1", "train_loss": 0.8, "train_mean_token_accuracy": 0.6},
        {"step": 2, "checkpoint": prefix + "2", "train_loss": 0.4, "train_mean_token_accuracy": 0.8},
    ]
    assert json.loads(json.dumps(final.to_json())) == final.to_json()


def test_backoff_is_capped(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.finetune.script = JobScript(statuses=("queued", *["running"] * 7, "succeeded"))
    request = make_request(tmp_path)
    backend, clock = make_backend(fake)
    final = backend.wait(backend.submit(request), request)
    assert final.status == "succeeded"
    assert clock.sleeps == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0, 60.0]


def test_unknown_statuses_are_waited_through_and_reported(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.finetune.script = JobScript(statuses=("validating_files", "paused", "resuming_soon", "running", "succeeded"))
    request = make_request(tmp_path)
    backend, _ = make_backend(fake)
    job = backend.submit(request)
    seen: list[str] = []
    final = backend.wait(job, request, progress=lambda s: seen.append(s.status))
    assert seen == ["paused", "resuming_soon", "running", "succeeded"]
    assert final.status == "succeeded"


def test_paused_job_is_found_and_reused(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.finetune.script = JobScript(statuses=("paused",))
    request = make_request(tmp_path)
    backend, _ = make_backend(fake)
    job = backend.submit(request)
    found = backend.find(request)
    assert found is not None and (found.job_id, found.status, found.done) == (job.job_id, "paused", False)


def test_failed_job_surfaces_error_and_is_not_reused(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.finetune.script = JobScript(statuses=("validating_files", "failed"))
    request = make_request(tmp_path)
    backend, _ = make_backend(fake)
    first = backend.wait(backend.submit(request), request)
    assert (first.status, first.error, first.fine_tuned_model) == (
        "failed",
        "invalid_training_file: fake failure",
        None,
    )
    assert first.events[-1]["level"] == "error"
    # Re-applying after a failure tries again: the failed job is history, not the recipe's job.
    assert backend.find(request) is None
    fake.finetune.script = JobScript()
    second = backend.submit(request)
    assert second.job_id != first.job_id
    assert (fake.finetune.creates, fake.finetune.uploads) == (2, 1)
    assert backend.wait(second, request).status == "succeeded"


CUTOFF_MESSAGE = (
    "FineTune/triage: OpenAI takes no new fine-tuning jobs on or after 2027-01-06 (today is {today}); nothing was "
    "uploaded. Use `backend: local`, or set `openai_cutoff` on the recipe if your organisation still has access"
)


@pytest.mark.parametrize("today", [date(2027, 1, 6), date(2027, 3, 1)])
def test_cutoff_refuses_before_uploading(fake: FakeOpenAI, tmp_path: Path, today: date) -> None:
    backend, _ = make_backend(fake, today=today)
    with pytest.raises(FinetuneError) as info:
        backend.submit(make_request(tmp_path))
    assert str(info.value) == CUTOFF_MESSAGE.format(today=today.isoformat())
    assert (fake.finetune.uploads, fake.finetune.creates) == (0, 0)


def test_job_made_before_the_cutoff_is_still_found_after_it(fake: FakeOpenAI, tmp_path: Path) -> None:
    request = make_request(tmp_path)
    before, _ = make_backend(fake, today=date(2027, 1, 5))
    job = before.submit(request)
    after, _ = make_backend(fake, today=date(2027, 1, 6))
    assert after.submit(request).job_id == job.job_id
    assert after.wait(job, request).status == "succeeded"
    assert fake.finetune.creates == 1


def _bad_key(fake: FakeOpenAI) -> None:
    fake.finetune.reject_key = KEY


def _five_failed_polls(fake: FakeOpenAI) -> None:
    fake.finetune.fail_retrieves = 5


def _never_finishes(fake: FakeOpenAI) -> None:
    fake.finetune.script = SLOW


@pytest.mark.parametrize(
    ("setup", "step", "expected"),
    [
        (
            _bad_key,
            "submit",
            "FineTune/triage: listing jobs failed: HTTP 401: Incorrect API key provided: ***.; check OPENAI_API_KEY",
        ),
        (
            _five_failed_polls,
            "wait",
            "FineTune/triage: lost track of job ftjob-{n} after 5 failed polls (HTTP 500: fake server error); the job "
            "keeps running: run apply again to resume waiting",
        ),
        (
            _never_finishes,
            "wait",
            "FineTune/triage: job ftjob-{n} is still running after 100s of waiting; it keeps running: run apply again "
            "to resume waiting",
        ),
    ],
)
def test_error_messages(fake: FakeOpenAI, tmp_path: Path, setup: Any, step: str, expected: str) -> None:
    request = make_request(tmp_path)
    backend, _ = make_backend(fake, max_poll_s=100)
    setup(fake)
    n = ""
    with pytest.raises(FinetuneError) as info:
        if step == "submit":
            backend.submit(request)
        else:
            job = backend.submit(request)
            n = job.job_id.removeprefix("ftjob-")
            backend.wait(job, request)
    assert str(info.value) == expected.format(n=n)
    assert KEY not in str(info.value)


def test_a_few_failed_polls_are_tolerated(fake: FakeOpenAI, tmp_path: Path) -> None:
    request = make_request(tmp_path)
    backend, _ = make_backend(fake)
    job = backend.submit(request)
    fake.finetune.fail_retrieves = 4
    assert backend.wait(job, request).status == "succeeded"


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({}, "FineTune/triage: method 'rft' needs a grader; add `graders`"),
        ({"grader": {"type": "string_check"}}, "FineTune/triage: OpenAI rft needs validation data; add `validation`"),
    ],
)
def test_rft_is_checked_before_uploading(fake: FakeOpenAI, tmp_path: Path, kw: dict[str, Any], expected: str) -> None:
    backend, _ = make_backend(fake)
    with pytest.raises(FinetuneError) as info:
        backend.submit(make_request(tmp_path, method="rft", **kw))
    assert str(info.value) == expected
    assert (fake.finetune.uploads, fake.finetune.creates) == (0, 0)


def test_key_never_reaches_status_or_events(fake: FakeOpenAI, tmp_path: Path) -> None:
    # A provider error that quotes the key (as a careless proxy would) must come back scrubbed.
    fake.finetune.script = JobScript(
        statuses=("queued", "failed"), error={"code": "bad_auth", "message": f"key {KEY} revoked"}
    )
    request = make_request(tmp_path)
    backend, _ = make_backend(fake)
    final = backend.wait(backend.submit(request), request)
    assert final.error == "bad_auth: key *** revoked"
    assert final.events[-1]["message"] == "Job failed: key *** revoked"
    assert KEY not in json.dumps(final.to_json())


KILLED_POLLER = """
import sys, time
from datetime import date
from pathlib import Path
import openai
from runner.finetune.backends.base import JobRequest
from runner.finetune.backends.openai import OpenAIBackend
from runner.specs.finetune import Hyperparameters

base_url, train, work, recipe_hash = sys.argv[1:5]
request = JobRequest(recipe="triage", recipe_hash=recipe_hash, method="sft", base_model="gpt-4o-mini-2024-07-18",
                     training_file=Path(train), hyperparameters=Hyperparameters(), work_dir=Path(work))
client = openai.OpenAI(api_key="sk-subprocess", base_url=base_url, max_retries=0, timeout=5)
backend = OpenAIBackend(client, cutoff=date(2999, 1, 1), sleep=lambda s: time.sleep(0.02))
job = backend.submit(request)
print(job.job_id, flush=True)
backend.wait(job, request, progress=lambda s: print(s.status, flush=True))
print("finished", flush=True)
"""


def test_polling_survives_a_kill(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.finetune.script = SLOW
    request = make_request(tmp_path)
    script = tmp_path / "poller.py"
    script.write_text(KILLED_POLLER)
    cmd = [sys.executable, str(script), fake.base_url, str(request.training_file), str(request.work_dir), HASH]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=REPO) as proc:
        try:
            assert proc.stdout is not None
            job_id = proc.stdout.readline().strip()
            deadline = time.monotonic() + 20
            while fake.finetune.retrieves < 4 and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            proc.kill()  # SIGKILL: no cleanup, no finally blocks in the child
        assert proc.wait(10) == -9
        rest = proc.stdout.read() if proc.stdout else ""
    assert job_id.startswith("ftjob-") and "finished" not in rest
    assert fake.finetune.job(job_id)["status"] == "running"

    backend, _ = make_backend(fake)
    found = backend.find(request)
    assert found is not None and found.job_id == job_id
    assert backend.submit(request).job_id == job_id
    final = backend.wait(found, request)
    assert (final.status, final.fine_tuned_model) == ("succeeded", f"ft:gpt-4o-mini-2024-07-18:fake-org::{job_id[-6:]}")
    assert (fake.finetune.creates, fake.finetune.uploads) == (1, 1)
