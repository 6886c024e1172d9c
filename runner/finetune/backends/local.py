"""The `local` fine-tuning backend: LoRA on the embedded SmolLM2, served by llama.cpp with `--lora_path`.

Training runs in a child process (`local_train`), so torch never loads into the CLI, a crash or an out-of-memory
kill becomes a failed status with a log instead of taking `flywheel` down, and an interrupt stops it cleanly
(its process group is terminated; a child whose parent vanished stops itself at its next step).

Everything lives in the job's `work_dir` (file names and records in `local_job`): `job.json` (`queued`,
`running`, `failed`, `succeeded`), `attempt/` (the current run's request, metrics and half-written files),
`train.log`, and once done `adapter.gguf` plus `result.json`. The child publishes by renaming the finished adapter
into place and then writing `result.json` atomically, last; `find` trusts an adapter only when `result.json` names
this recipe hash and the adapter's sha256. Training needs the `train` extra; `find` works without it.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runner.errors import FinetuneError
from runner.finetune.backends.base import JobRequest, JobStatus, Progress
from runner.finetune.backends.local_job import (
    ADAPTER,
    ATTEMPT,
    LOG,
    NAME,
    RESULT,
    job_id,
    read_job,
    read_metrics,
    read_result,
    train_config,
    write_job,
)
from runner.fsutil import atomic_write_text
from runner.hashing import canonical_json
from runner.specs.model import LOCAL_MODEL_ID
from runner.subproc import scrubbed_env, stop_group

TRAIN_MODULES = ("torch", "transformers", "peft", "gguf")
INSTALL_HINT = "run: bash scripts/install (or: pip install 'flywheel-evals[train]')"
RFT_REFUSED = "the local backend does not do rft; use method sft or distill, or backend openai"
LOST_HINT = "submit the job again to retrain it"
POLL_S = 0.5


def _child_env() -> dict[str, str]:
    env = scrubbed_env()
    # Everything the child loads is on disk: never let transformers reach for the Hub.
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")
    env.update(HF_HUB_DISABLE_PROGRESS_BARS="1", TRANSFORMERS_VERBOSITY="error")
    return env


@contextlib.contextmanager
def _locked(work_dir: Path) -> Iterator[None]:
    """One trainer per job directory, across processes (a second `apply` waits for the first)."""
    with (work_dir / ".lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _log_tail(log: Path) -> str:
    lines = [ln for ln in log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    return lines[-1] if lines else "(empty log)"


class LocalBackend:
    """LoRA fine-tuning on this machine (CPU, or CUDA when torch sees a GPU)."""

    name = NAME

    def _status(self, request: JobRequest, status: str, **fields: Any) -> JobStatus:
        return JobStatus(backend=NAME, job_id=job_id(request.recipe_hash), status=status,
                         recipe_hash=request.recipe_hash, **fields)  # fmt: skip

    def _refuse(self, request: JobRequest) -> None:
        """Jobs this backend can never run."""
        if request.method == "rft":
            raise FinetuneError(RFT_REFUSED)
        if request.base_model != LOCAL_MODEL_ID:
            raise FinetuneError(
                f"the local backend trains only the embedded model {LOCAL_MODEL_ID}, not {request.base_model!r}; "
                "use a base_model served by it, or backend openai"
            )

    def _require_training_extra(self) -> None:
        missing = [m for m in TRAIN_MODULES if importlib.util.find_spec(m) is None]
        if missing:
            raise FinetuneError(f"the local backend needs {', '.join(missing)} (the `train` extra); {INSTALL_HINT}")

    def find(self, request: JobRequest) -> JobStatus | None:
        """Succeeded when a vouched-for adapter exists; else the recorded job (queued/running/failed); else None."""
        work = request.work_dir
        result = read_result(work, request.recipe_hash)
        if result is not None:
            return self._status(
                request,
                "succeeded",
                fine_tuned_model=result.get("fine_tuned_model"),
                adapter_path=str(work / ADAPTER),
                trained_tokens=result.get("trained_tokens"),
                metrics=list(result.get("metrics", [])),
            )
        job = read_job(work, request.recipe_hash)
        if job is None:
            return None
        status, error = str(job.get("status", "queued")), job.get("error")
        if status == "succeeded":  # but the adapter or its record is gone or damaged
            status, error = "failed", f"the adapter of this job is missing or damaged; {LOST_HINT}"
        metrics = read_metrics(work / ATTEMPT / "metrics.jsonl")
        return self._status(request, status, error=error, metrics=metrics)

    def submit(self, request: JobRequest) -> JobStatus:
        """Find-or-create. A failed local job is queued again: retrying costs nothing but time."""
        self._refuse(request)
        found = self.find(request)
        if found is not None and found.status != "failed":
            return found
        self._require_training_extra()
        request.work_dir.mkdir(parents=True, exist_ok=True)
        write_job(request.work_dir, request, "queued")
        return self._status(request, "queued")

    def wait(self, job: JobStatus, request: JobRequest, progress: Progress | None = None) -> JobStatus:
        """Train (unless a finished adapter exists) and return the terminal status. After a kill it starts the
        run over: a partial run leaves only `attempt/`, which is discarded."""
        self._refuse(request)
        found = self.find(request)
        if found is not None and found.status == "succeeded":
            return found
        self._require_training_extra()
        request.work_dir.mkdir(parents=True, exist_ok=True)
        with _locked(request.work_dir):  # another process may have been training it: look again
            found = self.find(request)
            if found is not None and found.status == "succeeded":
                return found
            return self._train(request, progress)

    def _train(self, request: JobRequest, progress: Progress | None) -> JobStatus:
        work = request.work_dir
        attempt = work / ATTEMPT
        shutil.rmtree(attempt, ignore_errors=True)
        attempt.mkdir()
        for stale in (RESULT, ADAPTER):  # the record first: an adapter is never vouched for by an old record
            (work / stale).unlink(missing_ok=True)
        config = train_config(request, os.getpid())
        atomic_write_text(attempt / "request.json", canonical_json(config.to_json()) + "\n")
        write_job(work, request, "running")
        cmd = [sys.executable, "-m", "runner.finetune.backends.local_train", str(attempt / "request.json")]
        with (work / LOG).open("wb") as log:
            process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env=_child_env(), start_new_session=True)  # fmt: skip
        try:
            metrics = self._follow(request, process, attempt / "metrics.jsonl", progress)
        except BaseException:
            stop_group(process)  # Ctrl-C or a crash here: the job stays `running` and the next wait starts over
            raise
        found = self.find(request)
        if process.returncode == 0 and found is not None and found.status == "succeeded":
            write_job(work, request, "succeeded")
            return found
        error_file = attempt / "error.txt"
        if error_file.exists():
            error = error_file.read_text(encoding="utf-8").strip()
        else:
            error = f"training exited with code {process.returncode}; see {work / LOG}: {_log_tail(work / LOG)}"
        write_job(work, request, "failed", error)
        return self._status(request, "failed", error=error, metrics=metrics)

    def _follow(
        self, request: JobRequest, process: subprocess.Popen[bytes], metrics_file: Path, progress: Progress | None
    ) -> list[dict[str, Any]]:
        """Wait for the child, reporting each new training step to `progress`."""
        metrics: list[dict[str, Any]] = []
        if progress is not None:
            progress(self._status(request, "running"))
        while True:
            running = process.poll() is None
            latest = read_metrics(metrics_file)
            if len(latest) > len(metrics):
                metrics = latest
                if progress is not None:
                    progress(self._status(request, "running", metrics=list(metrics)))
            if not running:
                return metrics
            time.sleep(POLL_S)
