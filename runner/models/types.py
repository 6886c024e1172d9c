"""Provider-neutral request and response types, and the `ChatClient` protocol every client meets.

Only `runner.models.client` imports the `openai` SDK; everything else speaks these types.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from runner.identity import call_key


class MalformedResponse(ValueError):
    """The endpoint answered 200 with a body that is not a usable chat completion."""


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion call. `endpoint` identifies where it goes (it is part of the cache key, not the body)."""

    endpoint: str
    model: str
    messages: tuple[Mapping[str, Any], ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    """Every other body field: temperature, max_tokens, seed, response_format, tools, grammar, ..."""

    def body(self) -> dict[str, Any]:
        """The JSON body sent to `/chat/completions`."""
        return {"model": self.model, "messages": [dict(m) for m in self.messages], **self.params}

    def key(self, repeat: int = 0) -> str:
        """Cache key: sha256 of the canonical request plus the repeat index (repeats are independent samples)."""
        return call_key(self.endpoint, self.body(), repeat)


@dataclass(frozen=True)
class Usage:
    """Token counts of one call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ToolCallOut:
    """A tool call the model made; `arguments` is the raw JSON text the model produced."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ChatResponse:
    """The parts of a chat completion Flywheel uses, plus the raw JSON (what caches and cassettes store)."""

    text: str | None
    tool_calls: tuple[ToolCallOut, ...]
    finish_reason: str | None
    usage: Usage
    model: str
    raw: Mapping[str, Any] = field(compare=False, repr=False)

    @classmethod
    def from_json(cls, data: Any) -> ChatResponse:
        """Parse a `chat.completion` JSON object leniently; raise MalformedResponse when it is unusable."""
        if not isinstance(data, Mapping):
            raise MalformedResponse(f"expected a JSON object, got {type(data).__name__}")
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
            raise MalformedResponse("response has no choices")
        message = choices[0].get("message")
        if not isinstance(message, Mapping):
            raise MalformedResponse("first choice has no message")
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            raise MalformedResponse("message content is not text")
        calls = []
        for call in message.get("tool_calls") or []:
            fn = call.get("function") if isinstance(call, Mapping) else None
            if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str):
                raise MalformedResponse("tool call without a function name")
            args = fn.get("arguments")
            calls.append(
                ToolCallOut(
                    str(call.get("id", "")), fn["name"], args if isinstance(args, str) else json.dumps(args or {})
                )
            )
        raw_usage = data.get("usage")
        usage: Mapping[str, Any] = raw_usage if isinstance(raw_usage, Mapping) else {}
        raw_details = usage.get("prompt_tokens_details")
        details: Mapping[str, Any] = raw_details if isinstance(raw_details, Mapping) else {}
        return cls(
            text=content,
            tool_calls=tuple(calls),
            finish_reason=choices[0].get("finish_reason"),
            usage=Usage(
                int(usage.get("prompt_tokens") or 0),
                int(usage.get("completion_tokens") or 0),
                int(details.get("cached_tokens") or 0),
            ),
            model=str(data.get("model", "")),
            raw=data,
        )


class ChatClient(Protocol):
    """What the engine and the graders need from a model endpoint."""

    async def chat(self, request: ChatRequest) -> ChatResponse:
        """One chat completion, with the client's retries; raises ProviderError when it gives up."""
        ...

    async def embed(self, endpoint_model: str, texts: Sequence[str]) -> list[list[float]]:
        """Embeddings of `texts` from the `/embeddings` endpoint."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
