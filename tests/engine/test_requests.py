"""Rendering a Prompt for an item: the chat an item carries (`item_messages`) is checked and sent as it is."""

from __future__ import annotations

from typing import Any

import pytest

from runner.engine.requests import ItemMessagesError, render_messages
from runner.specs.prompt import PromptSpec

PROMPT = PromptSpec.model_validate(
    {"messages": [{"role": "system", "content": "Be brief about {{ item.topic }}."}], "item_messages": "chat"}
)


def test_item_chat_follows_the_templates_and_is_never_rendered() -> None:
    chat = [
        {"role": "system", "content": "Paris", "name": "example_assistant"},
        {"role": "user", "content": "And {{ item.topic }}?"},
    ]
    assert render_messages(PROMPT, {"topic": "France", "chat": chat}) == [
        {"role": "system", "content": "Be brief about France."},
        {"role": "system", "content": "Paris", "name": "example_assistant"},
        {"role": "user", "content": "And {{ item.topic }}?"},
    ]


@pytest.mark.parametrize(
    ("chat", "message"),
    [
        (None, "item field 'chat' must be a non-empty list of {role, content} messages"),
        ([], "item field 'chat' must be a non-empty list of {role, content} messages"),
        ("hi", "item field 'chat' must be a non-empty list of {role, content} messages"),
        (
            [{"role": "user", "content": "hi"}, {"role": "tool", "content": "x"}],
            "item field 'chat', message 1: expected {role: system|developer|user|assistant, content: text}",
        ),
        (
            [{"role": "user", "content": ["parts"]}],
            "item field 'chat', message 0: expected {role: system|developer|user|assistant, content: text}",
        ),
    ],
)
def test_a_malformed_chat_is_an_error_for_that_item(chat: Any, message: str) -> None:
    with pytest.raises(ItemMessagesError) as info:
        render_messages(PROMPT, {"topic": "x", "chat": chat})
    assert str(info.value) == message
