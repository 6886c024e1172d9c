"""`kind: Prompt`: chat messages whose contents are Jinja2 templates over a dataset item."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from runner.specs.common import JsonObject, Sampling, StrictModel, Template


class Message(StrictModel):
    """One chat message."""

    role: Literal["system", "developer", "user", "assistant"]
    """Who speaks."""
    content: Template
    """Jinja2 template over `item` (the dataset row), e.g. `Ticket: {{ item.message }}`."""


class JsonSchemaFormat(StrictModel):
    """A JSON schema the output must follow (OpenAI structured outputs)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    """Schema name sent to the API."""
    schema_: JsonObject = Field(alias="schema")
    """The JSON Schema of the output object."""
    strict: bool = True
    """Ask the provider to enforce the schema exactly."""


class ResponseFormat(StrictModel):
    """The OpenAI `response_format` parameter."""

    type: Literal["text", "json_object", "json_schema"]
    """`json_schema` requires `json_schema`."""
    json_schema: JsonSchemaFormat | None = None
    """The schema, for `type: json_schema`."""

    @model_validator(mode="after")
    def _schema_present(self) -> ResponseFormat:
        if (self.type == "json_schema") != (self.json_schema is not None):
            raise ValueError("`json_schema` is required with type 'json_schema' and allowed only with it")
        return self


class FunctionDef(StrictModel):
    """A function the model may call."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    """Function name."""
    description: str | None = None
    """What the function does, for the model."""
    parameters: JsonObject = {"type": "object", "properties": {}}
    """JSON Schema of the arguments."""
    strict: bool | None = None
    """Strict argument checking, where supported."""


class Tool(StrictModel):
    """An OpenAI tool definition."""

    type: Literal["function"] = "function"
    """Only function tools are supported."""
    function: FunctionDef
    """The function."""


class PromptSpec(StrictModel):
    """A prompt: messages, output format, tools and sampling parameters."""

    messages: list[Message] = []
    """Chat messages, rendered per dataset item."""
    item_messages: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """An item field holding a whole conversation (a list of `{role, content}` messages), sent after
    `messages`: for datasets whose items are chats, like openai/evals samples or an OpenAI Evals
    `item_reference`. Its contents are sent as they are, never rendered as templates."""
    response_format: ResponseFormat | None = None
    """Structured output; the local model is constrained to it with a grammar."""
    tools: list[Tool] = []
    """Tools the model may call."""
    tool_choice: Literal["auto", "none", "required"] | None = None
    """Tool selection policy."""
    parameters: Sampling = Sampling()
    """Overrides the Model's default sampling parameters."""
    choices: list[str] | None = Field(default=None, min_length=2)
    """A fixed set of allowed answers (e.g. triage labels). The local model's output is constrained to them,
    so its baseline is honest rather than unparseable."""

    @model_validator(mode="after")
    def _has_messages(self) -> PromptSpec:
        if not self.messages and self.item_messages is None:
            raise ValueError("give `messages` (templates) or `item_messages` (an item field holding a chat)")
        return self

    def to_api(self) -> dict[str, Any]:
        """The static parts of the request (messages are rendered per item elsewhere)."""
        out: dict[str, Any] = {}
        if self.response_format is not None:
            out["response_format"] = self.response_format.model_dump(by_alias=True, exclude_none=True)
        if self.tools:
            out["tools"] = [t.model_dump(exclude_none=True) for t in self.tools]
        if self.tool_choice is not None:
            out["tool_choice"] = self.tool_choice
        return out
