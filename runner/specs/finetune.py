"""`kind: FineTune`: a retraining recipe (sft, dpo, rft, distill), its triggers and its promotion rule."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from runner.specs.common import ModelRef, Name, StrictModel, Template

OPENAI_FINE_TUNING_CUTOFF = dt.date(2027, 1, 6)
"""OpenAI stops accepting new self-serve fine-tuning jobs on this date."""


Method = Literal["sft", "dpo", "rft", "distill"]
"""Fine-tuning methods, as OpenAI names them (distill: sft on a teacher's graded answers)."""


class TrainingData(StrictModel):
    """Where training examples come from: dataset items rendered through a prompt."""

    dataset: Name
    """The Dataset spec."""
    split: str | None = None
    """Split to train on (default: all items)."""
    prompt: Name
    """The Prompt spec that renders the input messages of each example."""
    completion: Template | None = None
    """sft / dpo: the ideal assistant answer, e.g. `{{ item.label }}`."""
    rejected: Template | None = None
    """dpo: the non-preferred answer."""
    max_examples: int | None = Field(default=None, ge=1)
    """Use at most this many examples (first by item id), to bound training time."""


class Hyperparameters(StrictModel):
    """Training hyperparameters (OpenAI names where they exist)."""

    n_epochs: int | Literal["auto"] = "auto"
    """Passes over the training data."""
    batch_size: int | Literal["auto"] = "auto"
    """Examples per step."""
    learning_rate_multiplier: float | Literal["auto"] = "auto"
    """OpenAI backend: multiplier on the provider's learning rate."""
    learning_rate: float = Field(default=2e-4, gt=0)
    """Local backend: AdamW learning rate."""
    beta: float | Literal["auto"] = "auto"
    """dpo: strength of the preference penalty."""
    lora_rank: int = Field(default=8, ge=1, le=256)
    """Local backend: LoRA rank."""
    lora_alpha: int = Field(default=16, ge=1)
    """Local backend: LoRA alpha."""
    seed: int = 0
    """Training seed."""


class DatasetChanged(StrictModel):
    """Retrain when the training data's content hash differs from the last trained one."""

    type: Literal["dataset_changed"]


class MetricBelow(StrictModel):
    """Retrain when an Eval's metric on main is below its floor for `runs` consecutive runs."""

    type: Literal["metric_below"]
    eval: Name
    """The Eval spec."""
    metric: Name
    """A metric of that Eval with a `value.lower` floor."""
    runs: int = Field(default=1, ge=1)
    """Consecutive runs below the floor."""


class Schedule(StrictModel):
    """Retrain on a schedule."""

    type: Literal["schedule"]
    every_days: int = Field(ge=1)
    """Days between retrains."""


class BaseModelShutdown(StrictModel):
    """Retrain (or migrate) when the base model's `shutdown_date` is within `within_days`."""

    type: Literal["base_model_shutdown"]
    within_days: int = Field(default=30, ge=0)
    """Days before the shutdown date."""


Trigger = Annotated[
    Union[DatasetChanged, MetricBelow, Schedule, BaseModelShutdown],  # noqa: UP007
    Field(discriminator="type"),
]


class Promotion(StrictModel):
    """How a trained model is promoted: gated on an Eval against the current champion."""

    eval: Name
    """The Eval whose gate decides (it must list the base model)."""
    against: str = "champion"
    """Alias of the incumbent on the base Model spec."""
    alias: str = "champion"
    """Alias moved to the new model on PASS."""
    challenger_alias: str = "challenger"
    """Alias set to the new model as soon as training finishes."""
    require: Literal["better", "not_worse"] = "better"
    """`better`: the gate passes (no regression beyond `min_effect` on any gated metric) and at least one gated
    metric is significantly better (one-sided paired test at the Eval's alpha, Holm-adjusted), so noise never
    replaces a champion. `not_worse`: the gate passes and at least one gated metric moved the right way."""


class FineTuneSpec(StrictModel):
    """A retraining recipe."""

    method: Method
    """sft: supervised; dpo: preference pairs; rft: reinforcement with graders; distill: SFT on a teacher's
    answers that pass `graders`."""
    base_model: ModelRef
    """The Model spec being tuned (its aliases receive the result)."""
    teacher: ModelRef | None = None
    """distill: the Model spec that answers the training inputs."""
    backend: Literal["local", "openai", "fake"] = "local"
    """`local`: LoRA on this machine (extra `flywheel-evals[train]`); `openai`: the fine-tuning API (refused
    after `openai_cutoff`); `fake`: deterministic, for tests."""
    training: TrainingData
    """Training examples."""
    validation: TrainingData | None = None
    """Validation examples (required by OpenAI for rft)."""
    graders: list[Name] = []
    """rft: the reward; distill: teacher answers must pass all of these."""
    hyperparameters: Hyperparameters = Hyperparameters()
    """Training hyperparameters."""
    triggers: list[Trigger] = []
    """What makes `plan` propose a retrain. Empty: only when run by hand."""
    promotion: Promotion | None = None
    """Gate that decides whether the result replaces the champion."""
    openai_cutoff: dt.date = OPENAI_FINE_TUNING_CUTOFF
    """The OpenAI backend refuses to create jobs on or after this date."""
    suffix: str | None = Field(default=None, max_length=40)
    """Suffix for the fine-tuned model name."""

    @model_validator(mode="after")
    def _method_fields(self) -> FineTuneSpec:
        if self.method == "distill" and self.teacher is None:
            raise ValueError("method 'distill' needs `teacher` (the Model spec whose answers are distilled)")
        if self.method != "distill" and self.teacher is not None:
            raise ValueError("`teacher` is only used by method 'distill'; remove it")
        if self.method == "rft" and not self.graders:
            raise ValueError("method 'rft' needs `graders` (the reward)")
        if self.method in ("sft", "dpo") and self.training.completion is None:
            raise ValueError(f"method '{self.method}' needs `training.completion` (the ideal answer template)")
        if self.method == "dpo" and self.training.rejected is None:
            raise ValueError("method 'dpo' needs `training.rejected` (the non-preferred answer template)")
        return self
