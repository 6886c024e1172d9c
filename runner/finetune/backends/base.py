"""The seam every fine-tuning backend implements, and the values that cross it.

A backend turns a validated training file into a trained model. Every job is identified by the recipe hash
(the hash of the recipe spec, its training data and its base model), so `submit` is find-or-create: a retry, a
re-run of `apply` or an `apply` resumed after a kill finds the job it already started and never pays twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from runner.specs.finetune import Hyperparameters, Method

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
DEAD = TERMINAL - {"succeeded"}
"""Ended without a model: such a job is never reused; the next submit starts a new one."""
"""Statuses after which a job never changes. Any other status string (including ones a provider adds later,
such as `paused`) means "still going"."""


@dataclass(frozen=True)
class JobRequest:
    """Everything a backend needs to start (or find) one fine-tuning job."""

    recipe: str
    """FineTune spec name."""
    recipe_hash: str
    """Identity of the job: sha256 hex of recipe + training data + base model."""
    method: Method
    """`distill` reaches backends as `sft` on the teacher's filtered answers; backends may see all four."""
    base_model: str
    """Provider model id of the base (`smollm2-135m-instruct` for the local backend)."""
    training_file: Path
    """JSONL in OpenAI's format for the method (chat `messages`, DPO `input`/`preferred_output`/..., RFT)."""
    hyperparameters: Hyperparameters
    work_dir: Path
    """A folder owned by this job (under `.flywheel/finetune/<recipe_hash[:16]>/`); backends keep their files
    and checkpoints here."""
    validation_file: Path | None = None
    suffix: str | None = None
    grader: dict[str, Any] | None = None
    """rft: the reward as OpenAI grader JSON."""


@dataclass
class JobStatus:
    """What a backend knows about one job. Serialisable with `to_json` into the state and lineage records."""

    backend: str
    job_id: str
    status: str
    """Lenient: `validating_files`, `queued`, `running`, `succeeded`, `failed`, `cancelled` or anything else."""
    recipe_hash: str
    fine_tuned_model: str | None = None
    """The new model id (`ft:...` for OpenAI; a local model id for the local backend)."""
    adapter_path: str | None = None
    """Local backend: the LoRA adapter GGUF file serving `fine_tuned_model`."""
    trained_tokens: int | None = None
    error: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    """Provider events, oldest first: `{"created_at", "level", "message", "type", "data"}`."""
    metrics: list[dict[str, Any]] = field(default_factory=list)
    """Per-step or per-checkpoint metrics, e.g. `{"step": 10, "train_loss": 0.4}`."""

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "job_id": self.job_id,
            "status": self.status,
            "recipe_hash": self.recipe_hash,
            "fine_tuned_model": self.fine_tuned_model,
            "adapter_path": self.adapter_path,
            "trained_tokens": self.trained_tokens,
            "error": self.error,
            "events": self.events,
            "metrics": self.metrics,
        }


Progress = Callable[[JobStatus], None]
"""Called with every new status while a backend waits (for logs and the state file)."""


class Backend(Protocol):
    """One fine-tuning service. Implementations: `local`, `openai`, `fake`."""

    name: str

    def find(self, request: JobRequest) -> JobStatus | None:
        """The job already started for `request.recipe_hash`, or None. Never creates anything."""
        ...

    def submit(self, request: JobRequest) -> JobStatus:
        """Find-or-create: the existing job for the recipe hash, else a new one. Refuses (FinetuneError) before
        spending when the backend cannot take the job (e.g. after the OpenAI cutoff date)."""
        ...

    def wait(self, job: JobStatus, request: JobRequest, progress: Progress | None = None) -> JobStatus:
        """Block until the job is terminal (polling with backoff for remote backends; training in-process for the
        local one) and return its final status. Safe to call again after a kill: it picks the job up by id."""
        ...
