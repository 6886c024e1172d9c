"""Turning (model, prompt, item) into a `ChatRequest`: render the templates, merge sampling parameters,
and constrain the local model's output where the prompt declares labels or a JSON schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import TemplateRuntimeError

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


ROLES = frozenset({"system", "developer", "user", "assistant"})


class ItemMessagesError(TemplateRuntimeError):
    """An item's `item_messages` field is not a list of chat messages (a graded error for that item, like a
    template that fails on it)."""


def render_messages(prompt: PromptSpec, item: Mapping[str, Any]) -> list[dict[str, str]]:
    """The prompt's messages rendered for `item` (sandboxed, strict: a missing field raises), then the chat
    held in the item's `item_messages` field, checked and sent as it is."""
    messages = [{"role": m.role, "content": render(m.content, item=item)} for m in prompt.messages]
    if prompt.item_messages is not None:
        messages.extend(item_chat(item, prompt.item_messages))
    return messages


def item_chat(item: Mapping[str, Any], field: str) -> list[dict[str, str]]:
    """The chat in `item[field]`: a non-empty list of `{role, content}` with string content."""
    chat = item.get(field)
    if not isinstance(chat, list) or not chat:
        raise ItemMessagesError(f"item field '{field}' must be a non-empty list of {{role, content}} messages")
    out = []
    for n, m in enumerate(chat):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise ItemMessagesError(
                f"item field '{field}', message {n}: expected {{role: system|developer|user|assistant, content: text}}"
            )
        message = {"role": str(m["role"]), "content": str(m["content"])}
        if isinstance(m.get("name"), str):
            message["name"] = m["name"]  # openai/evals few-shot turns: name example_user / example_assistant
        out.append(message)
    return out


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
