"""Building blocks shared by every spec kind: the strict base model, names, references, sampling."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

API_VERSION = "flywheel/v1"

NAME_PATTERN = r"^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="A lowercase name: letters, digits, '.', '_', '-'.")]

MODEL_REF_PATTERN = r"^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?(@[a-z0-9]([a-z0-9_-]{0,30}[a-z0-9])?)?$"
ModelRef = Annotated[
    str,
    Field(
        pattern=MODEL_REF_PATTERN,
        description="A Model spec name, optionally with an alias: `triage-model` or `triage-model@champion`.",
    ),
]

Template = Annotated[
    str,
    Field(description="A Jinja2 template (sandboxed, strict): `{{ item.field }}`, `{{ sample.output_text }}`."),
]

JsonObject = dict[str, Any]


class StrictModel(BaseModel):
    """Immutable, rejects unknown keys, and turns attribute docstrings into schema descriptions."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        populate_by_name=True,
        validate_default=True,
    )


class Metadata(StrictModel):
    """Identity of a spec document."""

    name: Name
    """Unique among documents of the same kind; other specs refer to it by this name."""
    labels: dict[str, str] = {}
    """Free-form key/value labels, for selection and reporting."""
    description: str | None = None
    """What this document is for, in a sentence."""


class Sampling(StrictModel):
    """Sampling parameters sent with a chat completion. Unset fields fall back to the Model's defaults."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    """0 is greedy; anything above makes repeats independent samples."""
    top_p: float | None = Field(default=None, gt=0, le=1)
    """Nucleus sampling mass."""
    max_tokens: int | None = Field(default=None, ge=1)
    """Upper bound on generated tokens; also used for the worst-case cost estimate."""
    seed: int | None = None
    """Best-effort determinism where the provider supports it."""
    stop: list[str] | None = None
    """Stop sequences."""
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    """For reasoning models only."""


def parse_model_ref(ref: str) -> tuple[str, str | None]:
    """Split `name@alias` into (name, alias); alias is None when absent."""
    name, _, alias = ref.partition("@")
    return name, (alias or None)


ENV_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
