"""Client-side flow control: an adaptive (AIMD) concurrency window and token-bucket rate limits."""

from __future__ import annotations

import asyncio
import time


class AdaptiveLimiter:
    """At most `window` requests in flight; the window halves on a 429 and grows by one after a window's
    worth of successes, never above `limit` (additive increase, multiplicative decrease)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.window = self.limit
        self.in_flight = 0
        self._successes = 0
        self._cond: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    async def acquire(self) -> None:
        cond = self._condition()
        async with cond:
            await cond.wait_for(lambda: self.in_flight < self.window)
            self.in_flight += 1

    async def release(self, *, throttled: bool = False, ok: bool = True) -> None:
        cond = self._condition()
        async with cond:
            self.in_flight -= 1
            if throttled:
                self.window = max(1, self.window // 2)
                self._successes = 0
            elif ok:
                self._successes += 1
                if self._successes >= self.window and self.window < self.limit:
                    self.window += 1
                    self._successes = 0
            cond.notify_all()


class TokenBucket:
    """`rate_per_minute` units refilled continuously; `take(n)` waits until n units are available."""

    def __init__(self, rate_per_minute: float) -> None:
        self.capacity = float(rate_per_minute)
        self.tokens = self.capacity
        self.rate = rate_per_minute / 60.0
        self.updated = time.monotonic()
        self._lock: asyncio.Lock | None = None

    async def take(self, n: float = 1.0) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        n = min(n, self.capacity)
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= n:
                    self.tokens -= n
                    return
                await asyncio.sleep((n - self.tokens) / self.rate)
