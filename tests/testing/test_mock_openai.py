"""The in-process endpoint drives the real client with no server: answers, retries, errors, embeddings."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from runner.errors import ProviderError
from runner.models.types import ChatRequest
from runner.specs.model import Limits
from runner.testing.mock_openai import MockOpenAI, Reply, completion


def _request(text: str) -> ChatRequest:
    return ChatRequest(endpoint="mock", model="m", messages=({"role": "user", "content": text},))


def test_answers_through_the_real_client() -> None:
    mock = MockOpenAI(lambda body: f"echo {body['messages'][-1]['content']}")

    async def go() -> str | None:
        client = mock.client()
        try:
            return (await client.chat(_request("hi"))).text
        finally:
            await client.aclose()

    assert asyncio.run(go()) == "echo hi"
    assert mock.paths == ["/v1/chat/completions"]
    assert mock.requests[0]["messages"] == [{"role": "user", "content": "hi"}]


def test_a_429_is_retried_and_a_final_500_is_an_error_without_the_key() -> None:
    script: list[str | Reply] = [Reply(429, {"error": "slow down"}, {"retry-after-ms": "1"}), "ok"]
    mock = MockOpenAI(lambda body: script.pop(0))
    failing = MockOpenAI(lambda body: Reply(500, {"error": "sk-secret-123456 broke"}))

    async def go() -> tuple[str | None, str]:
        client = mock.client(Limits(max_retries=2))
        bad = failing.client(Limits(max_retries=1), api_key="sk-secret-123456")
        try:
            text = (await client.chat(_request("x"))).text
            with pytest.raises(ProviderError) as err:
                await bad.chat(_request("x"))
            return text, str(err.value)
        finally:
            await client.aclose()
            await bad.aclose()

    text, message = asyncio.run(go())
    assert text == "ok"
    assert len(mock.requests) == 2
    assert len(failing.requests) == 2
    assert "sk-secret-123456" not in message
    assert message.startswith("mock.invalid/chat/completions: HTTP 500: ")
    assert message.endswith(" after 2 attempts")


def test_a_malformed_body_is_retried_then_fails() -> None:
    replies: list[Reply | str] = [Reply(200, b"{not json"), Reply(200, {"choices": []})]
    mock = MockOpenAI(lambda body: replies.pop(0) if replies else "fine")

    async def go() -> str | None:
        client = mock.client(Limits(max_retries=3))
        try:
            return (await client.chat(_request("x"))).text
        finally:
            await client.aclose()

    assert asyncio.run(go()) == "fine"
    assert len(mock.requests) == 3


def test_embeddings_are_deterministic() -> None:
    mock = MockOpenAI()

    async def go() -> list[list[float]]:
        client = mock.client()
        try:
            return await client.embed("e", ["aa", "io"])
        finally:
            await client.aclose()

    assert asyncio.run(go()) == [[2.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0, 0.0]]


def test_completion_counts_tokens() -> None:
    body: dict[str, Any] = {"model": "m"}
    assert completion("two words", body)["usage"] == {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
