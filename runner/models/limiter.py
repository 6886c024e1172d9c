"""Client-side flow control: an adaptive (AIMD) concurrency window and token-bucket rate limits."""

from __future__ import annotations

import asyncio
import time
from collections import deque


class AdaptiveLimiter:
    """At most `window` requests in flight; the window halves on a 429 and grows by one after a window's
    worth of successes, never above `limit` (additive increase, multiplicative decrease).

    The window halves at most once per round trip: `acquire` hands out the current epoch, and only a 429 for a
    request sent in the current epoch halves it (and starts a new epoch), so a burst of 429s from requests that
    were all in flight together counts as one signal instead of collapsing the window to 1. `release` is
    synchronous, so a cancelled call (`finally`) always gives its slot back.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.window = self.limit
        self.in_flight = 0
        self._successes = 0
        self._epoch = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> int:
        """Wait for a slot; return the ticket to give back to `release`."""
        while self.in_flight >= self.window:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                self._wake()  # a wake-up this waiter got but cannot use goes to the next one
                raise
        self.in_flight += 1
        return self._epoch

    def release(self, ticket: int, *, throttled: bool = False, ok: bool = True) -> None:
        """Give a slot back, saying how its request went."""
        self.in_flight -= 1
        if throttled:
            if ticket == self._epoch:
                self.window = max(1, self.window // 2)
                self._epoch += 1
            self._successes = 0
        elif ok:
            self._successes += 1
            if self._successes >= self.window and self.window < self.limit:
                self.window += 1
                self._successes = 0
        self._wake()

    def _wake(self) -> None:
        free = self.window - self.in_flight
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1


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
