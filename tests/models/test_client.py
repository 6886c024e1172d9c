"""The real client code against the fake server: retries, Retry-After, timeouts, bounded concurrency, errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from runner.errors import ProviderError
from runner.models.client import BACKENDS, OpenAIChatClient, _retry_after
from runner.models.types import ChatRequest
from runner.specs.model import Limits
from runner.testing.fake_openai import FakeOpenAI, Fault

SECRET = "sk-test-0123456789abcdef"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Every transport the client offers must behave the same."""
    return str(request.param)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def _request(text: str = "hello there") -> ChatRequest:
    return ChatRequest("fake", "fake-model", ({"role": "user", "content": text},), {"temperature": 0})


async def _chat(fake: FakeOpenAI, limits: Limits, *texts: str, backend: str = "direct") -> list[str | None]:
    client = OpenAIChatClient(fake.base_url, SECRET, limits, backend=backend)  # type: ignore[arg-type]
    try:
        responses = await asyncio.gather(*(client.chat(_request(t)) for t in texts))
        return [r.text for r in responses]
    finally:
        await client.aclose()


def test_answer_and_usage(fake: FakeOpenAI, backend: str) -> None:
    async def go() -> None:
        client = OpenAIChatClient(fake.base_url, SECRET, Limits(), backend=backend)  # type: ignore[arg-type]
        try:
            response = await client.chat(_request("one two three"))
        finally:
            await client.aclose()
        assert response.text == "three two one"
        assert fake.last_headers["Authorization"] == f"Bearer {SECRET}"
        assert fake.last_headers["User-Agent"].startswith("AsyncOpenAI/Python")
        assert response.usage.prompt_tokens == 3
        assert response.finish_reason == "stop"

    asyncio.run(go())


@pytest.mark.parametrize(
    "faults",
    [
        [Fault(status=429, retry_after_ms=50)],
        [Fault(status=500), Fault(status=502), Fault(status=503)],
        [Fault(body="{not json")],
        [Fault(body='{"choices": []}')],
        [Fault(delay_s=1.0)],
        [Fault(drop=True)],
        [Fault(truncate=True)],
    ],
    ids=["429", "5xx", "malformed-json", "no-choices", "timeout", "dropped", "cut-mid-body"],
)
def test_transient_failures_are_retried_until_success(fake: FakeOpenAI, faults: list[Fault], backend: str) -> None:
    fake.add_faults(*faults)
    texts = asyncio.run(_chat(fake, Limits(timeout_s=0.3, max_retries=5), "a b", backend=backend))
    assert texts == ["b a"]
    assert fake.count == len(faults) + 1
    assert fake.served == 1


def test_retry_after_is_honoured(fake: FakeOpenAI) -> None:
    fake.add_faults(Fault(status=429, retry_after_ms=400))
    start = time.monotonic()
    asyncio.run(_chat(fake, Limits(max_retries=2), "x"))
    assert time.monotonic() - start >= 0.35


def test_retry_after_is_capped_by_the_model_limits(fake: FakeOpenAI) -> None:
    fake.add_faults(Fault(status=429, retry_after="3600"))  # an hour: honoured only up to retry_after_max_s
    start = time.monotonic()
    assert asyncio.run(_chat(fake, Limits(max_retries=2, retry_after_max_s=0.2), "a b")) == ["b a"]
    assert 0.15 <= time.monotonic() - start < 5


def test_a_cancelled_call_gives_its_slot_back() -> None:
    async def go(fake: FakeOpenAI) -> list[str | None]:
        client = OpenAIChatClient(fake.base_url, SECRET, Limits(concurrency=1))
        try:
            slow = asyncio.create_task(client.chat(_request("slow one")))
            await asyncio.sleep(0.1)
            slow.cancel()  # cancelled mid-request, holding the only slot
            with pytest.raises(asyncio.CancelledError):
                await slow
            assert client.limiter.in_flight == 0
            return [(await asyncio.wait_for(client.chat(_request("next one")), 5)).text]
        finally:
            await client.aclose()

    with FakeOpenAI(latency_s=0.5) as fake:
        assert asyncio.run(go(fake)) == ["one next"]


def test_retries_exhausted_raise_a_clean_error_without_the_key(fake: FakeOpenAI, backend: str) -> None:
    fake.add_faults(*[Fault(status=500, body=f'{{"error": "boom {SECRET}"}}')] * 3)
    with pytest.raises(ProviderError) as info:
        asyncio.run(_chat(fake, Limits(max_retries=2), "x", backend=backend))
    host = fake.base_url.split("/")[2]
    assert str(info.value) == f'{host}/chat/completions: HTTP 500: {{"error": "boom ***"}} after 3 attempts'
    assert SECRET not in str(info.value)
    assert fake.count == 3


def test_unauthorised_fails_at_once(fake: FakeOpenAI, backend: str) -> None:
    fake.add_faults(Fault(status=401))
    with pytest.raises(ProviderError) as info:
        asyncio.run(_chat(fake, Limits(max_retries=5), "x", backend=backend))
    assert fake.count == 1
    assert getattr(info.value, "status", None) == 401
    assert str(info.value).endswith("; check the key in the Model's api_key_env")


def test_concurrency_never_exceeds_the_limit() -> None:
    with FakeOpenAI(latency_s=0.05) as fake:
        asyncio.run(_chat(fake, Limits(concurrency=3), *[f"w{i}" for i in range(20)]))
        assert fake.served == 20
        assert fake.max_in_flight == 3


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"retry-after-ms": "250"}, 0.25), ({"retry-after": "2"}, 2.0), ({}, None), ({"retry-after": "soon"}, None)],
)
def test_retry_after_parsing(headers: dict[str, str], expected: float | None) -> None:
    assert _retry_after(headers) == expected
