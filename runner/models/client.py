"""The OpenAI-compatible chat client: the only module that imports the `openai` SDK.

Retries are Flywheel's (the SDK's are off): 429, 5xx, timeouts, dropped connections and malformed 200 bodies
are retried with full-jitter exponential backoff (base `limits.backoff_s`), honouring `Retry-After` /
`retry-after-ms` up to `limits.retry_after_max_s`, up to the Model's `max_retries`; other 4xx fail at once. A
429 halves the concurrency window at most once per round trip (see `AdaptiveLimiter`). The body is read as
raw JSON (no pydantic objects per call). The API key never appears in an error message.

Backends (measured by `python -m bench.engine_bench`, which prints CPU per 1000 requests for each):
- `direct` (default): `AsyncOpenAI` resolves the base URL, the key and the SDK's headers once; each request is
  one aiohttp POST of the same JSON to the same URL. This skips the SDK's per-request httpx request model,
  which is most of its CPU cost on a 2-core machine.
- `aiohttp`: every request through `AsyncOpenAI.post` with the SDK's `DefaultAioHttpClient`.
- `httpx`: every request through `AsyncOpenAI.post` with the SDK's default httpx client.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
import httpx2
import openai

from runner.errors import ProviderError
from runner.models.limiter import AdaptiveLimiter, TokenBucket
from runner.models.types import ChatRequest, ChatResponse, MalformedResponse
from runner.specs.model import Limits

BACKOFF_CAP_S = 30.0
Backend = Literal["direct", "aiohttp", "httpx"]
BACKENDS: tuple[Backend, ...] = ("direct", "aiohttp", "httpx")
DEFAULT_BACKEND: Backend = "direct"
"""Measured in bench/: the least CPU per request of the three (see the module docstring)."""


class _Timeout(Exception):
    pass


class _Connection(Exception):
    pass


class ProviderCallError(ProviderError):
    """A call failed for good; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the server asked us to wait, from `retry-after-ms` or `retry-after` (seconds or HTTP date)."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (ValueError, TypeError):
        return None
    return max(0.0, parsed.timestamp() - time.time())


def scrub(text: str, secret: str | None, limit: int = 200) -> str:
    """`text` on one line, cut to `limit` characters, with `secret` masked (for errors that echo a request)."""
    one_line = " ".join(text.split())[:limit]
    return one_line.replace(secret, "***") if secret and len(secret) > 3 else one_line


class OpenAIChatClient:
    """`ChatClient` over `AsyncOpenAI` for any OpenAI-compatible endpoint."""

    def __init__(
        self,
        base_url: str | None,
        api_key: str,
        limits: Limits,
        backend: Backend = DEFAULT_BACKEND,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        """`transport` (tests: `runner.testing.mock_openai`) answers every request in-process, through the SDK's
        httpx client, so the whole client runs with no server."""
        self.limits = limits
        self._key = api_key
        self.host = urlsplit(base_url).netloc if base_url else "api.openai.com"
        self.backend: Backend = "httpx" if transport is not None else backend
        http_client: httpx2.AsyncClient | None = None
        if self.backend == "aiohttp":
            http_client = openai.DefaultAioHttpClient(timeout=limits.timeout_s)
        elif self.backend == "httpx":
            http_client = openai.DefaultAsyncHttpxClient(timeout=limits.timeout_s, transport=transport)
        self._client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key, max_retries=0, timeout=limits.timeout_s, http_client=http_client
        )
        self._base = str(self._client.base_url).rstrip("/")
        headers = {**self._client.default_headers, **self._client.auth_headers}
        self._headers = {k: v for k, v in headers.items() if isinstance(v, str)}
        self._session: aiohttp.ClientSession | None = None
        self.limiter = AdaptiveLimiter(limits.concurrency)
        self._rpm = TokenBucket(limits.requests_per_minute) if limits.requests_per_minute else None
        self._tpm = TokenBucket(limits.tokens_per_minute) if limits.tokens_per_minute else None

    async def chat(self, request: ChatRequest) -> ChatResponse:
        body = request.body()
        raw = await self._post(
            "/chat/completions", body, estimate=len(json.dumps(body)) / 4 + int(body.get("max_tokens") or 0)
        )
        return ChatResponse.from_json(raw)

    async def embed(self, endpoint_model: str, texts: Sequence[str]) -> list[list[float]]:
        raw = await self._post("/embeddings", {"model": endpoint_model, "input": list(texts)}, estimate=0)
        try:
            return [[float(x) for x in d["embedding"]] for d in sorted(raw["data"], key=lambda d: d["index"])]
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderCallError(f"{self.host}: malformed embeddings response ({exc})") from None

    async def _post(self, path: str, body: dict[str, Any], estimate: float) -> Any:
        attempt = 0
        while True:
            if self._rpm is not None:
                await self._rpm.take(1)
            if self._tpm is not None and estimate:
                await self._tpm.take(estimate)
            ticket = await self.limiter.acquire()
            throttled = ok = False
            wait: float | None = None
            problem: str
            status: int | None = None
            try:
                status, headers, content = await self._send(path, body)
                if status >= 400:
                    throttled = status == 429
                    problem = f"HTTP {status}: {scrub(content.decode('utf-8', 'replace'), self._key)}"
                    wait = _retry_after(headers)
                    retryable = status == 429 or status >= 500 or status in (408, 409)
                else:
                    data = json.loads(content)
                    if path == "/chat/completions":
                        ChatResponse.from_json(data)  # validate here so a malformed body is retried
                    ok = True
                    return data
            except _Timeout:
                problem, retryable = f"timed out after {self.limits.timeout_s:g}s", True
            except _Connection as exc:
                problem, retryable = f"connection error: {scrub(str(exc), self._key)}", True
            except (ValueError, MalformedResponse) as exc:
                problem, retryable = f"malformed response: {scrub(str(exc), self._key)}", True
            finally:
                self.limiter.release(ticket, throttled=throttled, ok=ok)  # also when the call is cancelled
            if not retryable or attempt >= self.limits.max_retries:
                tries = f" after {attempt + 1} attempts" if attempt else ""
                hint = "; check the key in the Model's api_key_env" if status in (401, 403) else ""
                raise ProviderCallError(f"{self.host}{path}: {problem}{tries}{hint}", status)
            attempt += 1
            backoff = random.uniform(0, min(BACKOFF_CAP_S, self.limits.backoff_s * 2 ** (attempt - 1)))
            await asyncio.sleep(min(wait, self.limits.retry_after_max_s) if wait is not None else backoff)

    async def _send(self, path: str, body: dict[str, Any]) -> tuple[int, Mapping[str, str], bytes]:
        """One HTTP attempt: (status, headers, body); raises _Timeout or _Connection."""
        if self.backend == "direct":
            return await self._send_direct(path, body)
        try:
            response = await self._client.post(path, body=body, cast_to=httpx2.Response)
        except openai.APIStatusError as exc:
            return exc.status_code, exc.response.headers, exc.response.content
        except openai.APITimeoutError:
            raise _Timeout from None
        except openai.APIConnectionError as exc:
            raise _Connection(str(exc.__cause__ or exc)) from None
        return response.status_code, response.headers, response.content

    async def _send_direct(self, path: str, body: dict[str, Any]) -> tuple[int, Mapping[str, str], bytes]:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=self.limits.timeout_s),
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                json_serialize=json.dumps,
            )
        try:
            async with self._session.post(self._base + path, data=json.dumps(body).encode()) as response:
                return response.status, response.headers, await response.read()
        except TimeoutError:
            raise _Timeout from None
        except aiohttp.ClientError as exc:
            raise _Connection(f"{type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
        await self._client.close()
