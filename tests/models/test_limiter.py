"""AIMD window: halves on throttling, grows back with successes, never above its limit."""

from __future__ import annotations

import asyncio

from runner.models.limiter import AdaptiveLimiter, TokenBucket


def test_window_halves_on_429_and_grows_back() -> None:
    async def go() -> list[int]:
        lim = AdaptiveLimiter(8)
        seen = []
        await lim.acquire()
        await lim.release(throttled=True, ok=False)
        seen.append(lim.window)
        await lim.acquire()
        await lim.release(throttled=True, ok=False)
        seen.append(lim.window)
        for _ in range(50):
            await lim.acquire()
            await lim.release(ok=True)
        seen.append(lim.window)
        return seen

    assert asyncio.run(go()) == [4, 2, 8]


def test_token_bucket_spaces_requests() -> None:
    async def go() -> float:
        bucket = TokenBucket(600)  # 10 per second, 600 burst
        bucket.tokens = 0
        loop = asyncio.get_running_loop()
        start = loop.time()
        for _ in range(3):
            await bucket.take(1)
        return loop.time() - start

    assert 0.25 <= asyncio.run(go()) < 1.0
