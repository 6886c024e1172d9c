"""AIMD window: halves on throttling, grows back with successes, never above its limit."""

from __future__ import annotations

import asyncio

from runner.models.limiter import AdaptiveLimiter, TokenBucket


def test_window_halves_on_429_and_grows_back() -> None:
    async def go() -> list[int]:
        lim = AdaptiveLimiter(8)
        seen = []
        lim.release(await lim.acquire(), throttled=True, ok=False)
        seen.append(lim.window)
        lim.release(await lim.acquire(), throttled=True, ok=False)
        seen.append(lim.window)
        for _ in range(50):
            lim.release(await lim.acquire(), ok=True)
        seen.append(lim.window)
        return seen

    assert asyncio.run(go()) == [4, 2, 8]


def test_a_burst_of_429s_from_one_round_trip_halves_the_window_once() -> None:
    async def go() -> list[int]:
        lim = AdaptiveLimiter(8)
        tickets = [await lim.acquire() for _ in range(8)]
        for ticket in tickets:  # all eight were in flight together: one congestion signal
            lim.release(ticket, throttled=True, ok=False)
        after_burst = lim.window
        lim.release(await lim.acquire(), throttled=True, ok=False)  # sent after the cut: a new signal
        return [after_burst, lim.window, lim.in_flight]

    assert asyncio.run(go()) == [4, 2, 0]


def test_a_cancelled_waiter_or_holder_leaks_no_slot() -> None:
    async def go() -> tuple[int, int]:
        lim = AdaptiveLimiter(1)
        held = await lim.acquire()

        async def call() -> None:
            ticket = await lim.acquire()
            try:
                await asyncio.sleep(10)
            finally:
                lim.release(ticket, ok=False)

        waiting = asyncio.create_task(call())
        await asyncio.sleep(0.01)
        waiting.cancel()  # cancelled while waiting for a slot
        lim.release(held, ok=True)
        holding = asyncio.create_task(call())
        await asyncio.sleep(0.01)
        assert lim.in_flight == 1
        holding.cancel()  # cancelled while holding one
        await asyncio.gather(waiting, holding, return_exceptions=True)
        third = await asyncio.wait_for(lim.acquire(), 1)
        lim.release(third, ok=True)
        return lim.in_flight, lim.window

    assert asyncio.run(go()) == (0, 1)


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
