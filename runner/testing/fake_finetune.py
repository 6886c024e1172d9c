"""The fine-tuning half of the fake OpenAI server: files, jobs, events, checkpoints, cancel.

`FakeOpenAI` mounts one `FakeFineTuning` as `fake.finetune`. Each `GET /v1/fine_tuning/jobs/{id}` moves a job one
step along its `JobScript` (default validating_files -> queued -> running -> succeeded); listing never advances a
job. Scripts may hold `paused` or any unknown status, and may end in `failed` with an error object. Counters
(`creates`, `uploads`, `retrieves`) and faults (`drop_after_create`, `fail_retrieves`, `reject_key`) serve tests.
All state sits behind one lock: handlers run on the server's loop thread, tests read from theirs.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from runner.finetune.backends.base import TERMINAL

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CREATED_AT = 1_800_000_000
"""Deterministic timestamps: the n-th object is created at CREATED_AT + n."""

_METADATA_QUERY = re.compile(r"^metadata\[(.+)\]$")


@dataclass(frozen=True)
class JobScript:
    """The statuses a job shows: at creation, then one step per retrieve, staying on the last."""

    statuses: tuple[str, ...] = ("validating_files", "queued", "running", "succeeded")
    error: dict[str, Any] = field(
        default_factory=lambda: {"code": "invalid_training_file", "message": "fake failure", "param": "training_file"}
    )
    """The `error` object a job carries once it reaches `failed`."""
    trained_tokens: int = 4242


@dataclass
class _Job:
    body: dict[str, Any]
    script: JobScript
    step: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)


def _page(items: list[dict[str, Any]], query: Any, default_limit: int = 20) -> dict[str, Any]:
    """A cursor page the SDK understands: `after` is the id of the last item of the previous page."""
    after = query.get("after")
    if after:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    limit = int(query.get("limit") or default_limit)
    data = items[:limit]
    return {"object": "list", "data": data, "has_more": len(items) > limit}


class FakeFineTuning:
    """State and handlers for `/v1/files` and `/v1/fine_tuning/jobs...`."""

    def __init__(self) -> None:
        self.script = JobScript()
        """Script for jobs created from now on."""
        self.creates = 0
        """`POST /v1/fine_tuning/jobs` requests received (each creates a job, faulted or not)."""
        self.uploads = 0
        """`POST /v1/files` requests received."""
        self.retrieves = 0
        """`GET /v1/fine_tuning/jobs/{id}` requests received."""
        self.create_bodies: list[dict[str, Any]] = []
        self.file_contents: dict[str, bytes] = {}
        self.drop_after_create = 0
        """The next N creates make the job, then drop the connection without answering."""
        self.fail_retrieves = 0
        """The next N retrieves answer HTTP 500."""
        self.reject_key: str | None = None
        """A bearer key answered with 401 whose message quotes the key in full (as a careless proxy would)."""
        self._files: list[dict[str, Any]] = []
        self._jobs: dict[str, _Job] = {}
        self._serial = 0
        self._lock = threading.Lock()

    @property
    def job_ids(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    def job(self, job_id: str) -> dict[str, Any]:
        """A copy of a job's current body."""
        with self._lock:
            return dict(self._jobs[job_id].body)

    def mount(self, app: web.Application) -> None:
        routes: list[tuple[str, str, Handler]] = [
            ("POST", "/v1/files", self._upload),
            ("GET", "/v1/files", self._list_files),
            ("POST", "/v1/fine_tuning/jobs", self._create),
            ("GET", "/v1/fine_tuning/jobs", self._list_jobs),
            ("GET", "/v1/fine_tuning/jobs/{id}", self._retrieve),
            ("GET", "/v1/fine_tuning/jobs/{id}/events", self._events),
            ("GET", "/v1/fine_tuning/jobs/{id}/checkpoints", self._checkpoints),
            ("POST", "/v1/fine_tuning/jobs/{id}/cancel", self._cancel),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, self._guarded(handler))

    def _guarded(self, handler: Handler) -> Handler:
        """`handler`, answering 401 first when the request carries `reject_key`."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            key = request.headers.get("authorization", "").removeprefix("Bearer ")
            if self.reject_key is not None and key == self.reject_key:
                message = f"Incorrect API key provided: {key}."
                error = {"message": message, "type": "invalid_request_error", "code": "invalid_api_key"}
                return web.json_response({"error": error}, status=401)
            return await handler(request)

        return guarded

    # -- helpers (call with the lock held) ----------------------------------------------------------------
    def _next(self) -> int:
        self._serial += 1
        return self._serial

    def _event(self, job: _Job, message: str, level: str = "info", kind: str = "message", data: Any = None) -> None:
        n = self._next()
        job.events.append(
            {
                "id": f"ftevent-{n:06d}",
                "object": "fine_tuning.job.event",
                "created_at": CREATED_AT + n,
                "level": level,
                "message": message,
                "type": kind,
                "data": data,
            }
        )

    def _checkpoint(self, job: _Job, step: int, loss: float) -> None:
        n = self._next()
        job_id = job.body["id"]
        job.checkpoints.append(
            {
                "id": f"ftckpt-{n:06d}",
                "object": "fine_tuning.job.checkpoint",
                "created_at": CREATED_AT + n,
                "fine_tuned_model_checkpoint": f"ft:{job.body['model']}:fake-org::{job_id[-6:]}:ckpt-step-{step}",
                "fine_tuning_job_id": job_id,
                "metrics": {"step": float(step), "train_loss": loss, "train_mean_token_accuracy": 1 - loss / 2},
                "step_number": step,
            }
        )

    def _enter(self, job: _Job, status: str) -> None:
        """Move `job` to `status`, with the events, checkpoints and fields the real API shows there."""
        body = job.body
        body["status"] = status
        self._event(job, f"Status: {status}")
        if status == "running":
            self._event(job, "Step 1/2: training loss=0.80", kind="metrics", data={"step": 1, "train_loss": 0.8})
            self._checkpoint(job, 1, 0.8)
        elif status == "succeeded":
            self._event(job, "Step 2/2: training loss=0.40", kind="metrics", data={"step": 2, "train_loss": 0.4})
            self._checkpoint(job, 2, 0.4)
            suffix = body.get("suffix") or ""
            body["fine_tuned_model"] = f"ft:{body['model']}:fake-org:{suffix}:{body['id'][-6:]}"
            body["trained_tokens"] = job.script.trained_tokens
            body["finished_at"] = CREATED_AT + self._serial
            self._event(job, "The job has successfully completed")
        elif status == "failed":
            body["error"] = dict(job.script.error)
            body["finished_at"] = CREATED_AT + self._serial
            self._event(job, f"Job failed: {job.script.error.get('message')}", level="error")

    def _not_found(self, job_id: str) -> web.Response:
        error = {"message": f"no fine-tuning job {job_id}", "type": "invalid_request_error", "code": None}
        return web.json_response({"error": error}, status=404)

    # -- files --------------------------------------------------------------------------------------------
    async def _upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form["file"]
        content = upload.file.read() if isinstance(upload, web.FileField) else str(upload).encode()
        filename = upload.filename if isinstance(upload, web.FileField) else "upload"
        with self._lock:
            self.uploads += 1
            n = self._next()
            file_id = f"file-{n:06d}"
            obj = {
                "id": file_id,
                "object": "file",
                "bytes": len(content),
                "created_at": CREATED_AT + n,
                "filename": filename,
                "purpose": str(form.get("purpose", "")),
                "status": "processed",
            }
            self._files.append(obj)
            self.file_contents[file_id] = content
        return web.json_response(obj)

    async def _list_files(self, request: web.Request) -> web.Response:
        purpose = request.query.get("purpose")
        with self._lock:
            files = [f for f in self._files if purpose is None or f["purpose"] == purpose]
        if request.query.get("order", "desc") == "desc":
            files.reverse()
        return web.json_response(_page(files, request.query, default_limit=10000))

    # -- jobs ---------------------------------------------------------------------------------------------
    async def _create(self, request: web.Request) -> web.StreamResponse:
        params = await request.json()
        with self._lock:
            self.creates += 1
            self.create_bodies.append(params)
            n = self._next()
            job_id = f"ftjob-{n:06d}"
            job = _Job(
                body={
                    "id": job_id,
                    "object": "fine_tuning.job",
                    "created_at": CREATED_AT + n,
                    "error": None,
                    "fine_tuned_model": None,
                    "finished_at": None,
                    "hyperparameters": {},
                    "model": params["model"],
                    "organization_id": "org-fake",
                    "result_files": [],
                    "seed": params.get("seed") or 0,
                    "status": "",
                    "trained_tokens": None,
                    "training_file": params["training_file"],
                    "validation_file": params.get("validation_file"),
                    "metadata": params.get("metadata"),
                    "method": params.get("method"),
                    "suffix": params.get("suffix"),
                },
                script=self.script,
            )
            self._jobs[job_id] = job
            self._event(job, f"Created fine-tuning job: {job_id}")
            self._enter(job, job.script.statuses[0])
            body = dict(job.body)
            drop = self.drop_after_create > 0
            if drop:
                self.drop_after_create -= 1
        if drop:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        return web.json_response(body)

    async def _list_jobs(self, request: web.Request) -> web.Response:
        wanted = {m.group(1): v for k, v in request.query.items() if (m := _METADATA_QUERY.match(k))}
        with self._lock:
            jobs = [
                dict(j.body)
                for j in reversed(self._jobs.values())
                if all((j.body.get("metadata") or {}).get(k) == v for k, v in wanted.items())
            ]
        return web.json_response(_page(jobs, request.query))

    async def _retrieve(self, request: web.Request) -> web.Response:
        job_id = request.match_info["id"]
        with self._lock:
            self.retrieves += 1
            if self.fail_retrieves > 0:
                self.fail_retrieves -= 1
                error = {"message": "fake server error", "type": "server_error", "code": None}
                return web.json_response({"error": error}, status=500)
            job = self._jobs.get(job_id)
            if job is None:
                return self._not_found(job_id)
            if job.step + 1 < len(job.script.statuses) and job.body["status"] != "cancelled":
                job.step += 1
                self._enter(job, job.script.statuses[job.step])
            return web.json_response(dict(job.body))

    async def _events(self, request: web.Request) -> web.Response:
        job_id = request.match_info["id"]
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return self._not_found(job_id)
            events = list(reversed(job.events))
        return web.json_response(_page(events, request.query))

    async def _checkpoints(self, request: web.Request) -> web.Response:
        job_id = request.match_info["id"]
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return self._not_found(job_id)
            checkpoints = list(reversed(job.checkpoints))
        return web.json_response(_page(checkpoints, request.query, default_limit=10))

    async def _cancel(self, request: web.Request) -> web.Response:
        job_id = request.match_info["id"]
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return self._not_found(job_id)
            if job.body["status"] not in TERMINAL:
                self._enter(job, "cancelled")
            return web.json_response(dict(job.body))
