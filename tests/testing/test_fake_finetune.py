"""The fake server's fine-tuning routes, through the real SDK: metadata filter, paging, cancel, faults."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from runner.testing.fake_finetune import JobScript
from runner.testing.fake_openai import FakeOpenAI


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def client(fake: FakeOpenAI) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-test", base_url=fake.base_url, max_retries=0, timeout=5)


def test_metadata_filter_and_paging(fake: FakeOpenAI) -> None:
    c = client(fake)
    f = c.files.create(file=("a.jsonl", b"{}\n", "application/jsonl"), purpose="fine-tune")
    ids = [c.fine_tuning.jobs.create(model="m", training_file=f.id, metadata={"h": str(i % 2)}).id for i in range(5)]
    assert [j.id for j in c.fine_tuning.jobs.list(metadata={"h": "0"}, limit=1)] == [ids[4], ids[2], ids[0]]
    page = c.fine_tuning.jobs.list(limit=2)
    assert ([j.id for j in page.data], page.has_more) == ([ids[4], ids[3]], True)
    assert [j.id for j in c.fine_tuning.jobs.list(after=ids[3])] == [ids[2], ids[1], ids[0]]
    assert [x.filename for x in c.files.list(purpose="batch")] == []
    assert (fake.finetune.uploads, fake.finetune.creates) == (1, 5)


def test_script_advances_per_retrieve_and_cancel_stops_it(fake: FakeOpenAI) -> None:
    fake.finetune.script = JobScript(statuses=("queued", "paused", "running", "succeeded"))
    c = client(fake)
    job = c.fine_tuning.jobs.create(model="m", training_file="file-x")
    assert job.status == "queued"
    c.fine_tuning.jobs.list()  # listing never advances a job
    assert str(c.fine_tuning.jobs.retrieve(job.id).status) == "paused"  # not in the SDK's Literal
    assert c.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    assert c.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    assert fake.finetune.retrieves == 2


def test_drop_after_create_still_makes_the_job(fake: FakeOpenAI) -> None:
    fake.finetune.drop_after_create = 1
    c = client(fake)
    with pytest.raises(openai.APIConnectionError):
        c.fine_tuning.jobs.create(model="m", training_file="file-x")
    assert fake.finetune.creates == 1 and len(fake.finetune.job_ids) == 1


def test_unknown_job_is_404(fake: FakeOpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client(fake).fine_tuning.jobs.retrieve("ftjob-missing")
