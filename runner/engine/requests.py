"""Turning (model, prompt, item) into a `ChatRequest`: render the templates, merge sampling parameters,
and constrain the local model's output where the prompt declares labels or a JSON schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runner.models.local import choices_grammar
from runner.models.resolve import ResolvedModel
from runner.models.types import ChatRequest
from runner.specs.model import LOCAL_MODEL_ID, ModelSpec
from runner.specs.prompt import PromptSpec
from runner.specs.templates import render

DEFAULT_MAX_TOKENS = 1024
"""Used for worst-case estimates when neither the Model nor the Prompt sets max_tokens."""


def sampling(model: ModelSpec, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Model defaults, overridden by the prompt's (or a judge's) parameters; unset values are dropped."""
    merged = model.parameters.model_dump(exclude_none=True)
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return merged


def render_messages(prompt: PromptSpec, item: Mapping[str, Any]) -> list[dict[str, str]]:
    """The prompt's messages rendered for `item` (sandboxed, strict: a missing field raises)."""
    return [{"role": m.role, "content": render(m.content, item=item)} for m in prompt.messages]


def build_request(model: ResolvedModel, prompt: PromptSpec, messages: list[dict[str, str]]) -> ChatRequest:
    """The request for one item. For the local model, `choices` become a grammar and a JSON schema becomes
    llama.cpp's `json_object` + `schema` (its `json_schema` mode fails)."""
    params = sampling(model.spec, prompt.parameters.model_dump(exclude_none=True))
    params.update(prompt.to_api())
    body_model = model.model_id
    if model.spec.provider == "local":
        body_model = LOCAL_MODEL_ID
        if prompt.choices:
            params["grammar"] = choices_grammar(prompt.choices)
        rf = prompt.response_format
        if rf is not None and rf.json_schema is not None:
            params["response_format"] = {"type": "json_object", "schema": rf.json_schema.schema_}
    return ChatRequest(model.endpoint, body_model, tuple(messages), params)


def max_output_tokens(request: ChatRequest) -> int:
    """The request's output-token cap, for worst-case estimates."""
    value = request.params.get("max_tokens") or request.params.get("max_completion_tokens")
    return int(value) if value else DEFAULT_MAX_TOKENS
