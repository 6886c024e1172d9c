"""The registry of spec kinds: one document class per `kind`, looked up in one static dict."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from runner.specs.common import API_VERSION, Metadata, StrictModel
from runner.specs.dataset import DatasetSpec
from runner.specs.evals import EvalSpec
from runner.specs.finetune import FineTuneSpec
from runner.specs.grader import GraderSpec
from runner.specs.model import ModelSpec
from runner.specs.prompt import PromptSpec


class _Document(StrictModel):
    api_version: Literal["flywheel/v1"] = Field(alias="apiVersion")
    """Spec language version: `flywheel/v1`."""
    metadata: Metadata
    """Name, labels, description."""


class ModelDoc(_Document):
    """A model endpoint with prices, limits and aliases."""

    kind: Literal["Model"]
    spec: ModelSpec


class PromptDoc(_Document):
    """Chat messages (Jinja2 templates over a dataset item), output format, tools."""

    kind: Literal["Prompt"]
    spec: PromptSpec


class DatasetDoc(_Document):
    """JSONL items with an id field, an item schema and splits."""

    kind: Literal["Dataset"]
    spec: DatasetSpec


class GraderDoc(_Document):
    """A grader from the OpenAI catalogue or Flywheel's own."""

    kind: Literal["Grader"]
    spec: GraderSpec


class EvalDoc(_Document):
    """Dataset x prompt x models x metrics, with floors, regression policy and budget."""

    kind: Literal["Eval"]
    spec: EvalSpec


class FineTuneDoc(_Document):
    """A retraining recipe with triggers and a promotion rule."""

    kind: Literal["FineTune"]
    spec: FineTuneSpec


Document = ModelDoc | PromptDoc | DatasetDoc | GraderDoc | EvalDoc | FineTuneDoc

KINDS: dict[str, type[Document]] = {
    "Model": ModelDoc,
    "Prompt": PromptDoc,
    "Dataset": DatasetDoc,
    "Grader": GraderDoc,
    "Eval": EvalDoc,
    "FineTune": FineTuneDoc,
}

__all__ = ["API_VERSION", "KINDS", "Document"]
