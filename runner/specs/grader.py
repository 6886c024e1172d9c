"""`kind: Grader`: the OpenAI grader catalogue, with its field names, plus Flywheel's own graders.

OpenAI grader JSON can be pasted under `spec:` as it is (`name` is accepted and ignored: `metadata.name`
names the grader). Templates use `{{ item.* }}` and `{{ sample.output_text }}` / `{{ sample.output_json }}`.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, ValidationInfo, field_validator, model_validator

from runner.specs.common import JsonObject, ModelRef, Sampling, StrictModel, Template

SIMILARITY_METRICS = (
    "fuzzy_match",
    "bleu",
    "gleu",
    "meteor",
    "cosine",
    "rouge_1",
    "rouge_2",
    "rouge_3",
    "rouge_4",
    "rouge_5",
    "rouge_l",
)
SimilarityMetric = Literal[
    "fuzzy_match",
    "bleu",
    "gleu",
    "meteor",
    "cosine",
    "rouge_1",
    "rouge_2",
    "rouge_3",
    "rouge_4",
    "rouge_5",
    "rouge_l",
]


class _Base(StrictModel):
    name: str | None = None
    """Accepted for compatibility with OpenAI grader JSON; `metadata.name` is the grader's name."""


class JudgeMessage(StrictModel):
    """A message of a model grader's prompt."""

    type: Literal["message"] | None = None
    """Accepted for compatibility with OpenAI grader JSON."""
    role: Literal["system", "developer", "user", "assistant"]
    """Who speaks."""
    content: Template
    """Template over `item` and `sample` (or `first` / `second` for pairwise)."""


class StringCheck(_Base):
    """Compares two rendered strings: eq, ne, like (substring), ilike (case-insensitive substring)."""

    type: Literal["string_check"]
    input: Template
    """Usually `{{ sample.output_text }}`."""
    reference: Template
    """Usually `{{ item.<expected field> }}`."""
    operation: Literal["eq", "ne", "like", "ilike"]
    """eq / ne: exact (in)equality; like: reference is a substring of input; ilike: the same, ignoring case."""


class TextSimilarity(_Base):
    """Similarity of input and reference by one metric; passes at `pass_threshold`."""

    type: Literal["text_similarity"]
    input: Template
    """Usually `{{ sample.output_text }}`."""
    reference: Template
    """The reference text."""
    evaluation_metric: SimilarityMetric
    """fuzzy_match, bleu, gleu, meteor, cosine (embeddings), rouge_1 .. rouge_5, rouge_l."""
    pass_threshold: float | None = Field(default=None, ge=0, le=1)
    """Score at or above which the sample passes. Optional, as in OpenAI's RFT graders, which only score:
    without it a sample passes only with a perfect 1.0, so report the metric with `aggregate: mean`."""
    embedding_model: ModelRef | None = None
    """For `cosine`: the Model spec whose endpoint serves `/embeddings`."""

    @model_validator(mode="after")
    def _cosine_needs_model(self) -> TextSimilarity:
        if self.evaluation_metric == "cosine" and self.embedding_model is None:
            raise ValueError("evaluation_metric 'cosine' needs `embedding_model` (a Model spec serving embeddings)")
        return self


class ScoreModel(_Base):
    """An LLM judge that returns a numeric score in `range`."""

    type: Literal["score_model"]
    input: list[JudgeMessage] = Field(min_length=1)
    """The judge prompt."""
    model: ModelRef
    """The judge: a Model spec name."""
    range: tuple[float, float] = (0.0, 1.0)
    """Lowest and highest score."""
    sampling_params: Sampling | None = None
    """Judge sampling; Flywheel pins temperature 0 and a seed unless set here."""
    pass_threshold: float | None = None
    """Score at or above which the sample passes (default: the middle of `range`)."""

    @model_validator(mode="after")
    def _range_ordered(self) -> ScoreModel:
        if self.range[0] >= self.range[1]:
            raise ValueError("`range` must be [low, high] with low < high")
        return self


class LabelModel(_Base):
    """An LLM judge that picks one of `labels`; passes when the label is in `passing_labels`."""

    type: Literal["label_model"]
    input: list[JudgeMessage] = Field(min_length=1)
    """The judge prompt."""
    model: ModelRef
    """The judge: a Model spec name."""
    labels: list[str] = Field(min_length=2)
    """Labels the judge may answer."""
    passing_labels: list[str] = Field(min_length=1)
    """Labels that count as a pass; each must be in `labels`."""

    @field_validator("passing_labels")
    @classmethod
    def _passing_subset(cls, passing: list[str], info: ValidationInfo) -> list[str]:
        # A field validator (not a model one), so the error points at `passing_labels`, not at the grader.
        labels = info.data.get("labels")
        unknown = [x for x in passing if labels is not None and x not in labels]
        if unknown:
            raise ValueError(f"passing_labels {unknown} are not in labels {labels}; add them to `labels`")
        return passing


class PythonGrader(_Base):
    """`def grade(sample, item) -> float` run in a sandboxed worker process (seccomp and Landlock: no network,
    no processes, no writes, no secrets; time and memory limits; see docs/security.md)."""

    type: Literal["python"]
    source: str | None = None
    """Python source defining `grade(sample, item)`."""
    file: str | None = None
    """Or: a .py file, relative to this spec file."""
    image_tag: str | None = None
    """Accepted for compatibility with OpenAI grader JSON; ignored."""
    pass_threshold: float | None = None
    """Score at or above which the sample passes (default 1.0)."""
    timeout_s: float = Field(default=10.0, gt=0, le=600)
    """Wall-clock limit per call."""
    memory_mb: int = Field(default=512, ge=32, le=65536)
    """Address-space limit of the grader process."""

    @model_validator(mode="after")
    def _one_source(self) -> PythonGrader:
        if (self.source is None) == (self.file is None):
            raise ValueError("give exactly one of `source` (inline code) or `file` (a .py file)")
        return self


class MultiGrader(_Base):
    """Runs several graders and combines their scores with `calculate_output`, a safe arithmetic formula."""

    type: Literal["multi"]
    graders: dict[str, GraderSpec] = Field(min_length=1)
    """Sub-graders by key; the formula refers to their scores by key."""
    calculate_output: str = Field(min_length=1)
    """e.g. `0.5 * exact + 0.5 * fuzzy`; + - * / **, min, max, abs, sqrt, log, floor, ceil."""
    pass_threshold: float | None = None
    """Score at or above which the sample passes (default 1.0)."""


class JsonSchemaGrader(_Base):
    """Flywheel: passes when the input parses as JSON and satisfies `schema`."""

    type: Literal["json_schema"]
    input: Template = "{{ sample.output_text }}"
    """The text to parse."""
    schema_: JsonObject = Field(alias="schema")
    """The JSON Schema."""


class ToolCall(_Base):
    """Flywheel: checks the model called the expected tool with matching arguments."""

    type: Literal["tool_call"]
    expected_tool: Template
    """Name of the tool the model should call (a template, e.g. `{{ item.tool }}`)."""
    expected_arguments: JsonObject | Template | None = None
    """Expected arguments: an object, or a template rendering to JSON; None checks the tool only."""
    arguments_match: Literal["exact", "subset"] = "subset"
    """`subset`: every expected key matches; `exact`: the arguments are equal."""


class Pairwise(_Base):
    """Flywheel: a judge compares two outputs, run in both orders to cancel position bias.

    The prompt sees `{{ first.output_text }}` and `{{ second.output_text }}`; the judge answers `1`, `2` or
    `tie`. Score: the mean of the candidate's two outcomes (win 1, tie 0.5, loss 0): 1 when it wins both orders,
    0.5 for a split, 0 when it loses both. Passes at 0.5 or more (at least as good as the baseline)."""

    type: Literal["pairwise"]
    input: list[JudgeMessage] = Field(min_length=1)
    """The judge prompt."""
    model: ModelRef
    """The judge: a Model spec name."""
    sampling_params: Sampling | None = None
    """Judge sampling; temperature 0 and a seed are pinned unless set here."""


GraderSpec = Annotated[
    Union[  # noqa: UP007 - a discriminated union reads better spelled out
        StringCheck,
        TextSimilarity,
        ScoreModel,
        LabelModel,
        PythonGrader,
        MultiGrader,
        JsonSchemaGrader,
        ToolCall,
        Pairwise,
    ],
    Field(discriminator="type"),
]
GRADER_TYPES = (
    "string_check",
    "text_similarity",
    "score_model",
    "label_model",
    "python",
    "multi",
    "json_schema",
    "tool_call",
    "pairwise",
)
MODEL_GRADERS = (ScoreModel, LabelModel, Pairwise)

MultiGrader.model_rebuild()
