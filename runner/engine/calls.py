"""Every model call of a run goes through `Caller`: cache, then replay cassette, then the network, with the
spend tracked against the budget. A response is stored the moment it is paid for.

- Single flight: identical requests in flight at once (same call key) are sent once; the others wait for that
  answer and pay nothing.
- Budget: every call checks the cap before it is sent (workers and judges alike), so spend never exceeds the
  budget by more than the calls already in flight.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.engine.cassette import Cassette
from runner.engine.store import Store
from runner.errors import BudgetError
from runner.models.pool import ClientPool, KeyGuard
from runner.models.pricing import cost_usd
from runner.models.resolve import ResolvedModel
from runner.models.types import ChatRequest, ChatResponse


class BudgetExhausted(BudgetError):
    """The budget was reached: no new call may start (the engine stops cleanly and keeps what it did)."""


@dataclass
class Spend:
    """Money and tokens spent by fresh (uncached) calls in this command, against an optional cap."""

    usd: float = 0.0
    tokens: int = 0
    calls: int = 0
    cached_calls: int = 0
    limit_usd: float | None = None
    limit_tokens: int | None = None

    @property
    def exhausted(self) -> bool:
        """True once actual spend reached the cap: no new call may start."""
        return (self.limit_usd is not None and self.usd >= self.limit_usd) or (
            self.limit_tokens is not None and self.tokens >= self.limit_tokens
        )


@dataclass(frozen=True)
class CallResult:
    """A response and what it cost (0 when it came from the cache, a cassette or an identical call in flight)."""

    response: ChatResponse
    cost_usd: float
    cached: bool
    latency_s: float


@dataclass
class Caller:
    """Cache -> cassette -> network, in that order (replay never touches the cache or the network)."""

    pool: ClientPool
    store: Store
    spend: Spend
    use_cache: bool = True
    record: Cassette | None = None
    replay: Cassette | None = None
    keys_used: set[str] = field(default_factory=set)
    _inflight: dict[str, asyncio.Future[tuple[dict[str, Any], float]]] = field(default_factory=dict)
    """Single flight: identical requests in flight at once are sent once; the others wait for that answer."""

    def is_cached(self, request: ChatRequest, repeat: int) -> bool:
        """Whether a call would cost nothing (for estimates)."""
        key = request.key(repeat)
        if self.replay is not None:
            return True
        return self.use_cache and self.store.has_response(key)

    async def call(self, model: ResolvedModel, request: ChatRequest, repeat: int, what: str) -> CallResult:
        """One chat completion for `request`, repeat index `repeat`; `what` names it in errors."""
        key = request.key(repeat)
        start = time.perf_counter()
        if self.replay is not None:
            raw = self.replay.replay(key, what)
            return CallResult(ChatResponse.from_json(raw), 0.0, True, time.perf_counter() - start)
        raw_cached = self.store.get_response(key) if self.use_cache else None
        if raw_cached is not None:
            self.spend.cached_calls += 1
            self._keep(key, raw_cached)
            return CallResult(ChatResponse.from_json(raw_cached), 0.0, True, time.perf_counter() - start)
        # --no-cache sends every request, identical ones included.
        while self.use_cache and (flight := self._inflight.get(key)) is not None:
            try:
                raw, _ = await asyncio.shield(flight)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if flight.cancelled() and task is not None and not task.cancelling():
                    continue  # the call we waited on was cancelled, not us: send it ourselves
                raise
            self.spend.cached_calls += 1
            return CallResult(ChatResponse.from_json(raw), 0.0, True, time.perf_counter() - start)
        if self.spend.exhausted:
            raise BudgetExhausted(f"budget reached before {what}")
        flight = asyncio.get_running_loop().create_future()
        self._inflight[key] = flight
        try:
            client = await self.pool.client(model)
            response = await client.chat(request)
        except asyncio.CancelledError:
            flight.cancel()
            raise
        except BaseException as exc:
            flight.set_exception(exc)
            flight.exception()  # marks it retrieved: waiters get it, no "never retrieved" warning
            raise
        finally:
            if self._inflight.get(key) is flight:  # under --no-cache an identical call may have replaced it
                del self._inflight[key]
        cost = cost_usd(response.usage, model.spec.pricing)
        self.store.put_response(key, response.raw, cost)
        self.spend.usd += cost
        self.spend.tokens += response.usage.total
        self.spend.calls += 1
        self._keep(key, response.raw)
        flight.set_result((dict(response.raw), cost))
        return CallResult(response, cost, False, time.perf_counter() - start)

    def _keep(self, key: str, raw: object) -> None:
        if self.record is not None and isinstance(raw, dict):
            self.record.add(key, raw)


@asynccontextmanager
async def caller_session(
    state_dir: Path,
    *,
    replay: Path | None = None,
    record: Path | None = None,
    use_cache: bool = True,
    key_guard: KeyGuard | None = None,
) -> AsyncIterator[Caller]:
    """A `Caller` over the state folder's response store and client pool, replaying from / recording to the
    given cassette folders; a recording is saved on the way out, even after a failure. `key_guard` limits
    which endpoints receive keys (see `ClientPool`)."""
    replaying = Cassette.load(replay, must_exist=True) if replay else None
    recorder = Cassette.load(record, must_exist=False) if record else None
    with Store(state_dir / "store.sqlite") as store:
        async with ClientPool(state_dir, key_guard) as pool:
            try:
                yield Caller(pool, store, Spend(), use_cache=use_cache, record=recorder, replay=replaying)
            finally:
                if recorder is not None:
                    recorder.save()
