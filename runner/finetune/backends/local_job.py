"""The local backend's job folder: its file names, the training child's config, and the records that say what
state a job is in. Shared by the backend (`local`) and its training child (`local_train`); imports no torch.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.finetune.backends.base import JobRequest
from runner.finetune.validate import auto_epochs
from runner.fsutil import atomic_write_text
from runner.hashing import canonical_json, file_sha256

NAME = "local"
RECORD_VERSION = 1
JOB, RESULT, ADAPTER, LOG, ATTEMPT = "job.json", "result.json", "adapter.gguf", "train.log", "attempt"
AUTO_BATCH, AUTO_BETA = 4, 0.1


@dataclass(frozen=True)
class TrainConfig:
    """What the training child needs, with every `auto` resolved; its JSON is `attempt/request.json`."""

    method: str
    """`sft` (also distill) or `dpo`."""
    training_file: str
    work_dir: str
    job_id: str
    recipe_hash: str
    fine_tuned_model: str
    n_epochs: int
    batch_size: int
    learning_rate: float
    beta: float
    lora_rank: int
    lora_alpha: int
    seed: int
    parent_pid: int
    """The child stops when its parent is gone (a SIGKILLed `flywheel` leaves no trainer behind)."""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainConfig:
        return cls(**data)


def job_id(recipe_hash: str) -> str:
    """The job id of a recipe: `local-<recipe_hash[:16]>`."""
    return f"local-{recipe_hash[:16]}"


def model_id(request: JobRequest) -> str:
    """The trained model's id, e.g. `smollm2-135m-instruct-ft-1a2b3c4d` (`...-ft-<suffix>-<hash8>` with a suffix)."""
    suffix = f"{request.suffix}-" if request.suffix else ""
    return f"{request.base_model}-ft-{suffix}{request.recipe_hash[:8]}"


def train_config(request: JobRequest, parent_pid: int) -> TrainConfig:
    """Resolve the hyperparameters into the child's config. `auto` epochs follow OpenAI's rule for the number of
    examples (`validate.auto_epochs`, the figure the token report printed); batch 4, beta 0.1."""
    hp = request.hyperparameters
    if hp.n_epochs == "auto":
        with request.training_file.open(encoding="utf-8") as fh:
            n_epochs = auto_epochs(sum(1 for line in fh if line.strip()))
    else:
        n_epochs = hp.n_epochs
    return TrainConfig(
        method="dpo" if request.method == "dpo" else "sft",
        training_file=str(request.training_file.resolve()),
        work_dir=str(request.work_dir.resolve()),
        job_id=job_id(request.recipe_hash),
        recipe_hash=request.recipe_hash,
        fine_tuned_model=model_id(request),
        n_epochs=n_epochs,
        batch_size=AUTO_BATCH if hp.batch_size == "auto" else hp.batch_size,
        learning_rate=hp.learning_rate,
        beta=AUTO_BETA if hp.beta == "auto" else hp.beta,
        lora_rank=hp.lora_rank,
        lora_alpha=hp.lora_alpha,
        seed=hp.seed,
        parent_pid=parent_pid,
    )


def publish(work_dir: Path, adapter: Path, record: dict[str, Any]) -> None:
    """Move a finished adapter into place, then write `result.json` (atomically, last) to vouch for it."""
    record = {**record, "version": RECORD_VERSION, "adapter": ADAPTER, "adapter_sha256": file_sha256(adapter)}
    os.replace(adapter, work_dir / ADAPTER)
    atomic_write_text(work_dir / RESULT, canonical_json(record) + "\n")


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_result(work_dir: Path, recipe_hash: str) -> dict[str, Any] | None:
    """The published result of this recipe, if `result.json` vouches for the adapter beside it (hash and sha256)."""
    result = read_json(work_dir / RESULT)
    adapter = work_dir / ADAPTER
    if (
        result is not None
        and result.get("version") == RECORD_VERSION
        and result.get("recipe_hash") == recipe_hash
        and adapter.is_file()
        and file_sha256(adapter) == result.get("adapter_sha256")
    ):
        return result
    return None


def read_job(work_dir: Path, recipe_hash: str) -> dict[str, Any] | None:
    """The job record of this recipe, if one was written."""
    job = read_json(work_dir / JOB)
    return job if job is not None and job.get("recipe_hash") == recipe_hash else None


def write_job(work_dir: Path, request: JobRequest, status: str, error: str | None = None) -> None:
    record = {
        "version": RECORD_VERSION,
        "backend": NAME,
        "job_id": job_id(request.recipe_hash),
        "recipe": request.recipe,
        "recipe_hash": request.recipe_hash,
        "method": request.method,
        "base_model": request.base_model,
        "status": status,
        "error": error,
        "updated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    atomic_write_text(work_dir / JOB, canonical_json(record) + "\n")


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    complete = path.read_text(encoding="utf-8").split("\n")[:-1]  # a line still being written has no newline yet
    return [json.loads(line) for line in complete if line]
