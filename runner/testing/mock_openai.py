"""An OpenAI-compatible endpoint inside the test process, as an httpx2 `MockTransport` under the SDK.

`runner.testing.fake_openai` is a real HTTP server (for the CLI, subprocesses and workflows); this one needs no
socket and no thread: a unit test builds `MockOpenAI(answer)`, takes `.client()` (the real `OpenAIChatClient`,
retries and limiter included) and sees every request body in `.requests`. `answer` maps a request body to the
reply text, or to a `Reply` for statuses, headers and malformed bodies.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2

from runner.models.client import OpenAIChatClient
from runner.specs.model import Limits


@dataclass(frozen=True)
class Reply:
    """A scripted HTTP answer: a status with a body (JSON value or raw bytes) and headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def last_user_text(body: dict[str, Any]) -> str:
    """The content of the request's last user message."""
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    return str(users[-1].get("content", "")) if users else ""


def completion(text: str, body: dict[str, Any], prompt_tokens: int = 10) -> dict[str, Any]:
    """A chat completion answering `body` with `text`."""
    return {
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "model": body.get("model", "mock"),
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}},
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(text.split()),
            "total_tokens": prompt_tokens + len(text.split()),
        },
    }


class MockOpenAI:
    """Answers `/chat/completions` with `answer(body)` and `/embeddings` with small deterministic vectors."""

    def __init__(self, answer: Callable[[dict[str, Any]], str | Reply] = last_user_text) -> None:
        self.answer = answer
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []

    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self._handle)

    def client(self, limits: Limits | None = None, api_key: str = "sk-mock") -> OpenAIChatClient:
        """The real client, its requests answered here."""
        return OpenAIChatClient("http://mock.invalid/v1", api_key, limits or Limits(), transport=self.transport())

    def _handle(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        self.paths.append(request.url.path)
        if request.url.path.endswith("/embeddings"):
            data = [{"index": i, "embedding": _vector(t)} for i, t in enumerate(body["input"])]
            return httpx2.Response(200, json={"object": "list", "data": data})
        reply = self.answer(body)
        if isinstance(reply, str):
            return httpx2.Response(200, json=completion(reply, body))
        if isinstance(reply.body, bytes):
            return httpx2.Response(reply.status, content=reply.body, headers=reply.headers)
        return httpx2.Response(reply.status, json=reply.body, headers=reply.headers)


def _vector(text: str) -> list[float]:
    """Letter counts of a, e, i, o, u: texts sharing letters point the same way."""
    lower = text.lower()
    return [float(lower.count(c)) for c in "aeiou"]
