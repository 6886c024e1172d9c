"""An OpenAI-compatible fake server for tests and benchmarks (aiohttp, 127.0.0.1, a free port).

It runs in a background thread with its own event loop, so sync tests, async tests and subprocesses can all
call it. It counts what it receives, can inject faults in order (429 with Retry-After, 5xx, slow answers,
malformed bodies, dropped connections, bodies cut mid-way) or at random rates (`Storm`, seeded), counts the
complete 200 answers per request key, and answers with a deterministic `responder`. The fine-tuning routes
(files, jobs, events, checkpoints) live in `fake_finetune.py`, reachable as `fake.finetune`.

Standalone: `python -m runner.testing.fake_openai --port 0 --latency-ms 50` prints its base URL and serves
until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from runner.testing.fake_finetune import FakeFineTuning

Responder = Callable[[dict[str, Any]], "str | dict[str, Any]"]


def default_responder(body: dict[str, Any]) -> str:
    """A deterministic answer: the last user message, reversed word order."""
    last = next((m.get("content") or "" for m in reversed(body.get("messages", [])) if m.get("role") == "user"), "")
    return " ".join(reversed(str(last).split())) or "ok"


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour, consumed by the next chat request."""

    status: int = 200
    """The HTTP status; 0: no fault at all, only `delay_s` before the normal answer (a slow answer)."""
    retry_after: str | None = None
    retry_after_ms: int | None = None
    body: str | None = None
    """Raw body to send (e.g. malformed JSON) instead of a completion."""
    delay_s: float = 0.0
    """Sleep before answering (longer than the client's timeout: a timeout)."""
    drop: bool = False
    """Close the connection without answering."""
    truncate: bool = False
    """Answer 200 with a real completion, but cut the body mid-way (Content-Length promises more)."""


@dataclass(frozen=True)
class Storm:
    """Faults drawn at random (seeded) for every chat request that has no scripted `Fault`: each request gets
    at most one, with these probabilities. Loopback only; bounded by the client's retries."""

    seed: int = 0
    error_500: float = 0.0
    throttle_429: float = 0.0
    retry_after: str | None = None
    """Retry-After header of the 429s."""
    drop: float = 0.0
    truncate: float = 0.0
    malformed: float = 0.0
    slow: float = 0.0
    slow_s: float = 0.05
    """How long a slow answer waits (still answered, unless longer than the client's timeout)."""

    def draw(self, rng: random.Random) -> Fault | None:
        """One request's fate."""
        x = rng.random()
        for rate, fault in (
            (self.error_500, Fault(status=500)),
            (self.throttle_429, Fault(status=429, retry_after=self.retry_after)),
            (self.drop, Fault(drop=True)),
            (self.truncate, Fault(truncate=True)),
            (self.malformed, Fault(body='{"choices": [{"message": ')),
            (self.slow, Fault(delay_s=self.slow_s, status=0)),
        ):
            if x < rate:
                return fault
            x -= rate
        return None


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class FakeOpenAI:
    """Context manager: `with FakeOpenAI(latency_s=0.05) as fake: fake.base_url`."""

    def __init__(self, latency_s: float = 0.0, responder: Responder = default_responder, port: int = 0) -> None:
        self.latency_s = latency_s
        self.responder = responder
        self.port = port
        self.keep_bodies = True
        """False for long benchmarks: count requests without keeping their bodies."""
        self.requests: list[dict[str, Any]] = []
        """Bodies of every chat request received, faulted or not, in arrival order."""
        self.last_headers: dict[str, str] = {}
        """Headers of the latest chat request (tests check auth and SDK headers)."""
        self.authorizations: list[str] = []
        """The Authorization header of every chat and embeddings request ('' when absent): tests prove which
        keys reached which endpoint."""
        self.served = 0
        """Chat requests answered with a completion."""
        self.in_flight = 0
        self.max_in_flight = 0
        self.finetune = FakeFineTuning()
        """Files and fine-tuning jobs: scripts, counters and faults for those routes."""
        self.storm: Storm | None = None
        """Random faults for requests with no scripted one (see `Storm`)."""
        self.answered: dict[str, int] = {}
        """Request key (sha256 of the body) -> complete 200 answers sent for it."""
        self.cut: dict[str, int] = {}
        """Request key -> 200 answers whose body was cut mid-way."""
        self.embeddings = 0
        """Embeddings requests received."""
        self._rng = random.Random(0)
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def count(self) -> int:
        """Chat requests received, faulted or not."""
        with self._lock:
            return len(self.requests)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def add_faults(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def set_storm(self, storm: Storm | None) -> None:
        """Start (or, with None, stop) random faults."""
        with self._lock:
            self.storm = storm
            self._rng = random.Random(storm.seed if storm else 0)

    @staticmethod
    def request_key(body: dict[str, Any]) -> str:
        """The key `answered` and `cut` count by."""
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()

    # -- handlers -----------------------------------------------------------------------------------------
    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        with self._lock:
            self.requests.append(body if self.keep_bodies else {})
            self.last_headers = dict(request.headers)
            self.authorizations.append(request.headers.get("Authorization", ""))
            fault = self._faults.pop(0) if self._faults else None
            if fault is None and self.storm is not None:
                fault = self.storm.draw(self._rng)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if fault is not None and fault.status == 0:  # slow, then a normal answer
                await asyncio.sleep(fault.delay_s)
                fault = None
            if fault is not None and not fault.truncate:
                return await self._fault(request, fault)
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            answer = self.responder(body)
            message = {"role": "assistant", "content": answer} if isinstance(answer, str) else answer
            prompt = sum(_tokens(str(m.get("content") or "")) for m in body.get("messages", []))
            completion = _tokens(str(message.get("content") or ""))
            with self._lock:
                n = self.served + 1
            payload = {
                "id": f"chatcmpl-{n}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
            key = self.request_key(body)
            if fault is not None and fault.truncate:
                with self._lock:
                    self.cut[key] = self.cut.get(key, 0) + 1
                return await self._cut(request, json.dumps(payload).encode())
            response = web.json_response(payload)
            with self._lock:
                self.served += 1
                self.answered[key] = self.answered.get(key, 0) + 1
            return response
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _cut(self, request: web.Request, data: bytes) -> web.StreamResponse:
        """200 with the first half of `data`, then the connection closes (Content-Length says more)."""
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.content_length = len(data)
        await response.prepare(request)
        await response.write(data[: len(data) // 2])
        assert request.transport is not None
        request.transport.close()
        return response

    async def _fault(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.drop:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        headers = {}
        if fault.retry_after is not None:
            headers["retry-after"] = fault.retry_after
        if fault.retry_after_ms is not None:
            headers["retry-after-ms"] = str(fault.retry_after_ms)
        if fault.body is not None:
            return web.Response(status=fault.status, text=fault.body, headers=headers, content_type="application/json")
        error = {"error": {"message": f"fake error {fault.status}", "type": "fake", "code": None}}
        return web.json_response(error, status=fault.status, headers=headers)

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            self.embeddings += 1
            self.authorizations.append(request.headers.get("Authorization", ""))
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        data = []
        for i, text in enumerate(texts):
            digest = hashlib.sha256(str(text).encode()).digest()
            data.append({"object": "embedding", "index": i, "embedding": [b / 255 for b in digest[:16]]})
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", "fake"),
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        )

    async def _stats(self, request: web.Request) -> web.Response:
        with self._lock:
            return web.json_response(
                {"count": len(self.requests), "served": self.served, "max_in_flight": self.max_in_flight}
            )

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

    # -- lifecycle ----------------------------------------------------------------------------------------
    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/_stats", self._stats)
        self.finetune.mount(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    def start(self) -> FakeOpenAI:
        ready = threading.Event()
        errors: list[BaseException] = []

        def main() -> None:
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(self._start())
            except BaseException as exc:
                errors.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=main, name="fake-openai", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Serve until killed, printing the base URL first."""
    parser = argparse.ArgumentParser(prog="python -m runner.testing.fake_openai")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    fake = FakeOpenAI(latency_s=args.latency_ms / 1000, port=args.port)
    fake.keep_bodies = False
    fake.start()
    print(fake.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
