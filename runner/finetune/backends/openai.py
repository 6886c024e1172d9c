"""The OpenAI fine-tuning backend: upload, find-or-create, poll, through the sync `openai` SDK.

Job identity is `metadata.flywheel_recipe_hash`. Rules:
- Reuse: `find` returns the newest job for the hash that is live (any non-terminal status, unknown ones
  included) or `succeeded`. Failed and cancelled jobs are history, never reused: re-applying after a failure
  starts a new job, and `find` answers None exactly when `submit` would create one.
- Files: uploaded as `flywheel-<sha256[:16]>-<train|valid>.jsonl` (hash of the bytes) and looked up by that name
  first, so a re-run uploads nothing new.
- Never two jobs for one hash: create runs with the SDK's retries off; after a connection error, timeout, 429
  or 5xx (the request may have landed) it looks the hash up again before trying once more.
- Cutoff: no new job on or after `cutoff` (OpenAI stops self-serve jobs on 2027-01-06); a job created before
  is still found and waited on.
- Responses are read as raw JSON dicts, not SDK models, so a status the SDK's Literal lacks (`paused`, or one
  added later) is kept as a string and treated as still going.
The API key never appears in a message, an event or a JobStatus.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import openai

from runner.errors import FinetuneError
from runner.finetune.backends.base import DEAD, JobRequest, JobStatus, Progress
from runner.hashing import sha256_hex
from runner.models.client import scrub
from runner.specs.finetune import OPENAI_FINE_TUNING_CUTOFF

HASH_KEY = "flywheel_recipe_hash"
RECIPE_KEY = "flywheel_recipe"
POLL_FIRST_S = 5.0
POLL_CAP_S = 60.0
CREATE_ATTEMPTS = 3
POLL_ERRORS = 5
"""Consecutive failed polls tolerated before `wait` gives up (the job itself keeps running)."""
_METHOD_TYPE = {"sft": "supervised", "distill": "supervised", "dpo": "dpo", "rft": "reinforcement"}


class OpenAIBackend:
    """`Backend` over OpenAI's fine-tuning API (or any server with the same routes)."""

    name = "openai"

    def __init__(
        self,
        client: openai.OpenAI,
        *,
        today: Callable[[], date] = date.today,
        cutoff: date,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_poll_s: float | None = None,
    ) -> None:
        self._client = client
        # Create and upload are not idempotent: our loop decides when to retry, after looking the hash up.
        self._once = client.with_options(max_retries=0)
        self._today = today
        self._cutoff = cutoff
        self._sleep = sleep
        self._clock = clock
        self._max_poll_s = max_poll_s

    @classmethod
    def connect(
        cls,
        *,
        api_key: str,
        base_url: str | None = None,
        cutoff: date = OPENAI_FINE_TUNING_CUTOFF,
        **options: Any,
    ) -> OpenAIBackend:
        """A backend with its own client, for the key of the base Model's endpoint (the caller reads it from
        that Model's variable, so a key never goes to another provider's URL)."""
        return cls(openai.OpenAI(api_key=api_key, base_url=base_url, timeout=60.0), cutoff=cutoff, **options)

    # -- Backend ------------------------------------------------------------------------------------------
    def find(self, request: JobRequest) -> JobStatus | None:
        """The newest live or succeeded job tagged with the recipe hash, or None."""
        list_jobs = self._client.fine_tuning.jobs.with_raw_response.list
        jobs = self._list(
            f"FineTune/{request.recipe}: listing jobs", list_jobs, metadata={HASH_KEY: request.recipe_hash}
        )
        # Filter again here: a server that ignores the metadata filter must not hand us someone else's job.
        mine = [j for j in jobs if (j.get("metadata") or {}).get(HASH_KEY) == request.recipe_hash]
        usable = [j for j in mine if j.get("status") not in DEAD]
        if not usable:
            return None
        return self._status(max(usable, key=lambda j: int(j.get("created_at") or 0)), request)

    def submit(self, request: JobRequest) -> JobStatus:
        """Find-or-create; refuses on or after the cutoff date before uploading anything."""
        found = self.find(request)
        if found is not None:
            return found
        today = self._today()
        if today >= self._cutoff:
            raise FinetuneError(
                f"FineTune/{request.recipe}: OpenAI takes no new fine-tuning jobs on or after "
                f"{self._cutoff.isoformat()} (today is {today.isoformat()}); nothing was uploaded. "
                "Use `backend: local`, or set `openai_cutoff` on the recipe if your organisation still has access"
            )
        method = self._method(request)
        training = self._upload(request, request.training_file, "train")
        validation = self._upload(request, request.validation_file, "valid") if request.validation_file else None
        params: dict[str, Any] = {
            "model": request.base_model,
            "training_file": training,
            "method": method,
            "seed": request.hyperparameters.seed,
            "metadata": {HASH_KEY: request.recipe_hash, RECIPE_KEY: request.recipe[:512]},
        }
        if validation is not None:
            params["validation_file"] = validation
        if request.suffix:
            params["suffix"] = request.suffix
        create = self._once.fine_tuning.jobs.with_raw_response.create
        problem = ""
        for attempt in range(CREATE_ATTEMPTS):
            try:
                return self._status(json.loads(create(**params).content), request)
            except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as exc:
                problem = self._describe(exc)
            except openai.APIStatusError as exc:
                raise FinetuneError(
                    f"FineTune/{request.recipe}: creating the job failed: {self._describe(exc)}"
                ) from None
            # The request may have landed: look before trying again, so one hash never gets two jobs.
            self._sleep(POLL_FIRST_S * 2**attempt)
            found = self.find(request)
            if found is not None:
                return found
        raise FinetuneError(
            f"FineTune/{request.recipe}: creating the job failed after {CREATE_ATTEMPTS} attempts: {problem}; "
            "run apply again (it finds the job if one was made)"
        )

    def wait(self, job: JobStatus, request: JobRequest, progress: Progress | None = None) -> JobStatus:
        """Poll until terminal with capped exponential backoff, collecting events and checkpoint metrics."""
        start = self._clock()
        delay = POLL_FIRST_S
        errors = 0
        current = job
        seen = {e["id"] for e in job.events if "id" in e}
        while True:
            try:
                raw = self._get(self._client.fine_tuning.jobs.with_raw_response.retrieve, job.job_id)
                events = self._new_events(job.job_id, seen)
                metrics = self._metrics(job.job_id)
                errors = 0
            except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as exc:
                errors += 1
                if errors >= POLL_ERRORS:
                    raise FinetuneError(
                        f"FineTune/{request.recipe}: lost track of job {job.job_id} after {errors} failed polls "
                        f"({self._describe(exc)}); the job keeps running: run apply again to resume waiting"
                    ) from None
            except openai.APIStatusError as exc:
                raise FinetuneError(
                    f"FineTune/{request.recipe}: polling job {job.job_id} failed: {self._describe(exc)}"
                ) from None
            else:
                new = self._status(raw, request)
                new.events = current.events + events
                new.metrics = metrics or current.metrics
                if _fingerprint(new) != _fingerprint(current) and progress is not None:
                    progress(new)
                current = new
                if current.done:
                    return current
            if self._max_poll_s is not None and self._clock() - start >= self._max_poll_s:
                raise FinetuneError(
                    f"FineTune/{request.recipe}: job {job.job_id} is still {current.status} after "
                    f"{self._max_poll_s:g}s of waiting; it keeps running: run apply again to resume waiting"
                )
            self._sleep(delay)
            delay = min(delay * 2, POLL_CAP_S)

    # -- helpers ------------------------------------------------------------------------------------------
    def _method(self, request: JobRequest) -> dict[str, Any]:
        """The `method` object of jobs.create (never the deprecated top-level `hyperparameters`)."""
        hp = request.hyperparameters
        names = ["batch_size", "learning_rate_multiplier", "n_epochs"] + (["beta"] if request.method == "dpo" else [])
        chosen = {n: getattr(hp, n) for n in names if getattr(hp, n) != "auto"}
        kind = _METHOD_TYPE[request.method]
        body: dict[str, Any] = {"hyperparameters": chosen}
        if kind == "reinforcement":
            if request.grader is None:
                raise FinetuneError(f"FineTune/{request.recipe}: method 'rft' needs a grader; add `graders`")
            if request.validation_file is None:
                raise FinetuneError(f"FineTune/{request.recipe}: OpenAI rft needs validation data; add `validation`")
            body["grader"] = request.grader
        return {"type": kind, kind: body}

    def _upload(self, request: JobRequest, path: Path, role: str) -> str:
        """The id of a `fine-tune` file with these bytes: an existing one found by name, else a new upload."""
        content = path.read_bytes()
        filename = f"flywheel-{sha256_hex(content)[:16]}-{role}.jsonl"
        problem = ""
        what = f"FineTune/{request.recipe}: uploading {path.name}"
        for attempt in range(CREATE_ATTEMPTS):
            files = self._list(what, self._client.files.with_raw_response.list, purpose="fine-tune")
            existing = next((f for f in files if f.get("filename") == filename and f.get("status") != "error"), None)
            if existing is not None:
                return str(existing["id"])
            try:
                raw = self._once.files.with_raw_response.create(
                    file=(filename, content, "application/jsonl"), purpose="fine-tune"
                )
                return str(json.loads(raw.content)["id"])
            except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as exc:
                problem = self._describe(exc)
            except openai.APIStatusError as exc:
                raise FinetuneError(f"{what} failed: {self._describe(exc)}") from None
            self._sleep(POLL_FIRST_S * 2**attempt)
        raise FinetuneError(f"{what} failed after {CREATE_ATTEMPTS} attempts: {problem}; run apply again")

    def _list(self, what: str, fetch: Callable[..., Any], *args: Any, **params: Any) -> list[dict[str, Any]]:
        """Every item of a cursor-paged list, as dicts; provider errors become FinetuneError."""
        try:
            return list(self._pages(fetch, *args, **params))
        except openai.APIError as exc:
            raise FinetuneError(f"{what} failed: {self._describe(exc)}") from None

    def _pages(self, fetch: Callable[..., Any], *args: Any, **params: Any) -> Iterator[dict[str, Any]]:
        after: str | None = None
        while True:
            page = self._get(fetch, *args, **params, **({"after": after} if after else {}))
            data = [d for d in page.get("data") or [] if isinstance(d, dict)]
            yield from data
            if not page.get("has_more") or not data or not data[-1].get("id"):
                return
            after = str(data[-1]["id"])

    @staticmethod
    def _get(fetch: Callable[..., Any], *args: Any, **params: Any) -> dict[str, Any]:
        body = json.loads(fetch(*args, **params).content)
        return body if isinstance(body, dict) else {}

    def _new_events(self, job_id: str, seen: set[str]) -> list[dict[str, Any]]:
        """Events not seen yet, oldest first. The API lists newest first, so stop at the first one seen."""
        fresh: list[dict[str, Any]] = []
        list_events = self._client.fine_tuning.jobs.with_raw_response.list_events
        for event in self._pages(list_events, job_id, limit=100):
            if str(event.get("id")) in seen:
                break
            fresh.append(
                self._scrubbed({k: event.get(k) for k in ("id", "created_at", "level", "message", "type", "data")})
            )
        seen.update(str(e["id"]) for e in fresh)  # only once the whole list was read
        fresh.reverse()
        return fresh

    def _metrics(self, job_id: str) -> list[dict[str, Any]]:
        """Checkpoint metrics by step: `{"step", "checkpoint", "train_loss", ...}` (null metrics left out)."""
        rows = []
        try:
            checkpoints = list(self._pages(self._client.fine_tuning.jobs.checkpoints.with_raw_response.list, job_id))
        except openai.NotFoundError:  # OpenAI-compatible servers without checkpoints
            return []
        for ckpt in checkpoints:
            metrics = ckpt.get("metrics")
            metrics = metrics if isinstance(metrics, dict) else {}
            row = {k: v for k, v in metrics.items() if v is not None and k != "step"}
            rows.append({"step": ckpt.get("step_number"), "checkpoint": ckpt.get("fine_tuned_model_checkpoint"), **row})
        return sorted(rows, key=lambda r: int(r["step"] or 0))

    def _status(self, raw: dict[str, Any], request: JobRequest) -> JobStatus:
        """A JobStatus from a job's JSON; any status string is accepted."""
        status = str(raw.get("status") or "unknown")
        error = None
        if status == "failed":
            err = raw.get("error")
            err = err if isinstance(err, dict) else {}
            code, message = err.get("code") or "unknown_error", err.get("message") or "no message from OpenAI"
            error = self._scrub(f"{code}: {message}")
        tokens = raw.get("trained_tokens")
        return JobStatus(
            backend=self.name,
            job_id=str(raw.get("id")),
            status=status,
            recipe_hash=request.recipe_hash,
            fine_tuned_model=raw.get("fine_tuned_model") if status == "succeeded" else None,
            trained_tokens=int(tokens) if isinstance(tokens, int | float) else None,
            error=error,
        )

    def _describe(self, exc: openai.APIError) -> str:
        if isinstance(exc, openai.APIStatusError):
            body = exc.body if isinstance(exc.body, dict) else {}
            inner = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
            text = f"HTTP {exc.status_code}: {inner.get('message') or exc.message}"
            if exc.status_code in (401, 403):
                text += "; check OPENAI_API_KEY"
        elif isinstance(exc, openai.APITimeoutError):
            text = "timed out"
        else:
            text = f"connection error: {exc}"
        return self._scrub(text)

    def _scrub(self, text: str) -> str:
        return scrub(str(text), self._client.api_key, limit=300)

    def _scrubbed(self, value: Any) -> Any:
        if isinstance(value, str):
            key = self._client.api_key
            return self._scrub(value) if key and len(key) > 3 and key in value else value
        if isinstance(value, dict):
            return {k: self._scrubbed(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._scrubbed(v) for v in value]
        return value


def _fingerprint(job: JobStatus) -> tuple[object, ...]:
    return (job.status, len(job.events), len(job.metrics), job.fine_tuned_model, job.error, job.trained_tokens)
