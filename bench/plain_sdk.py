"""The baseline the engine is measured against: a plain asyncio + openai SDK script making the same calls
(default httpx client, a semaphore, no caching, no grading). Prints one JSON line of measurements."""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time

import openai


async def _main(base_url: str, n: int, concurrency: int) -> None:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> str | None:
        async with sem:
            resp = await client.chat.completions.create(
                model="fake-model", messages=[{"role": "user", "content": f"word{i}"}], temperature=0, max_tokens=16
            )
            return resp.choices[0].message.content

    await asyncio.gather(*(one(i) for i in range(n)))
    await client.close()


def main() -> None:
    base_url, n, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    cpu0, wall0 = time.process_time(), time.perf_counter()
    asyncio.run(_main(base_url, n, concurrency))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "wall_s": time.perf_counter() - wall0,
                "cpu_s": time.process_time() - cpu0,
                "peak_rss_mb": usage.ru_maxrss / 1024,
            }
        )
    )


if __name__ == "__main__":
    main()
