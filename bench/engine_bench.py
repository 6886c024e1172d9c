"""Engine benchmark: `python -m bench.engine_bench` (see bench/README.md).

Starts the fake OpenAI-compatible server as its own process (50 ms latency), then measures, each phase in a
fresh process so CPU and peak RSS are its own:
  cold    `flywheel run` over N items at concurrency C: wall vs the ideal floor N x latency / C, CPU per 1000
          items, peak RSS, and the same for a plain asyncio + openai SDK script (bench/plain_sdk.py);
  warm    the same run again: every answer from the cache (target: no requests, under 1 s);
  rss     peak RSS of cold runs at a small and a large N (no latency), to show memory stays flat.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

SPEC = """apiVersion: flywheel/v1
kind: Model
metadata: {{name: fake}}
spec:
  provider: openai_compatible
  base_url: {base_url}
  model: fake-model
  parameters: {{temperature: 0, max_tokens: 16}}
  limits: {{concurrency: {concurrency}, timeout_s: 30}}
---
apiVersion: flywheel/v1
kind: Dataset
metadata: {{name: words}}
spec: {{path: words.jsonl}}
---
apiVersion: flywheel/v1
kind: Prompt
metadata: {{name: echo}}
spec:
  messages:
    - {{role: user, content: "{{{{ item.word }}}}"}}
---
apiVersion: flywheel/v1
kind: Grader
metadata: {{name: exact}}
spec: {{type: string_check, input: "{{{{ sample.output_text }}}}", reference: "{{{{ item.word }}}}", operation: eq}}
---
apiVersion: flywheel/v1
kind: Eval
metadata: {{name: bench}}
spec:
  dataset: words
  prompt: echo
  models: [fake]
  metrics: [{{name: exact, grader: exact}}]
"""


def _project(base_url: str, n: int, concurrency: int) -> Path:
    root = Path(tempfile.mkdtemp(prefix="flywheel-bench-"))
    (root / "specs").mkdir()
    (root / "specs/eval.yaml").write_text(SPEC.format(base_url=base_url, concurrency=concurrency))
    with (root / "specs/words.jsonl").open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"w{i}", "word": f"word{i}"}) + "\n")
    return root


def phase(root: str) -> None:
    """One `flywheel run` in this process; prints its measurements as JSON."""
    import os  # noqa: PLC0415

    from runner.cli import main  # noqa: PLC0415

    os.chdir(root)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    code = main(["run", "bench"])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "code": code,
                "wall_s": time.perf_counter() - wall0,
                "cpu_s": time.process_time() - cpu0,
                "peak_rss_mb": usage.ru_maxrss / 1024,
            }
        )
    )


def _child(args: list[str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _stats(base_url: str) -> dict[str, int]:
    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/_stats") as resp:
        return dict(json.loads(resp.read()))


def _server(latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner.testing.fake_openai", "--latency-ms", str(latency_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def run_flywheel_target(base_url: str, n: int, concurrency: int) -> tuple[dict[str, Any], Path]:
    """A cold `flywheel run` of N items against `base_url`, in a fresh process."""
    root = _project(base_url, n, concurrency)
    return _child(["-m", "bench.engine_bench", "--phase", str(root)]), root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("-c", "--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--rss-small", type=int, default=1000)
    parser.add_argument("--rss-large", type=int, default=100_000)
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(args.phase)
        return
    n, c = args.n, args.concurrency
    server, url = _server(args.latency_ms)
    try:
        floor = n * args.latency_ms / 1000 / c
        ours, root = run_flywheel_target(url, n, c)
        sent_cold = _stats(url)["count"]
        plain = _child(["bench/plain_sdk.py", url, str(n), str(c)])
        before = _stats(url)["count"]
        warm = _child(["-m", "bench.engine_bench", "--phase", str(root)])
        warm_requests = _stats(url)["count"] - before
        shutil.rmtree(root, ignore_errors=True)
    finally:
        server.terminate()
        server.wait()
    print(f"cold run, N={n}, concurrency {c}, latency {args.latency_ms:g} ms")
    print(
        f"  flywheel : wall {ours['wall_s']:.2f} s, floor {floor:.2f} s, ratio {ours['wall_s'] / floor:.2f} "
        f"(target <= 1.3); CPU {1000 * ours['cpu_s'] / n:.2f} s per 1000 items; peak RSS {ours['peak_rss_mb']:.0f} MB;"
        f" requests {sent_cold}"
    )
    print(
        f"  plain SDK: wall {plain['wall_s']:.2f} s, ratio {plain['wall_s'] / floor:.2f}; "
        f"CPU {1000 * plain['cpu_s'] / n:.2f} s per 1000 items; peak RSS {plain['peak_rss_mb']:.0f} MB"
    )
    print(f"  CPU ratio flywheel / plain SDK: {ours['cpu_s'] / plain['cpu_s']:.2f} (target <= 0.5)")
    print(
        f"warm re-run: wall {warm['wall_s']:.2f} s (target < 1 s), requests {warm_requests} (target 0), "
        f"peak RSS {warm['peak_rss_mb']:.0f} MB"
    )
    if args.skip_rss:
        return
    server, url = _server(0)
    try:
        small, r1 = run_flywheel_target(url, args.rss_small, c)
        large, r2 = run_flywheel_target(url, args.rss_large, c)
        shutil.rmtree(r1, ignore_errors=True)
        shutil.rmtree(r2, ignore_errors=True)
    finally:
        server.terminate()
        server.wait()
    print(
        f"peak RSS: N={args.rss_small}: {small['peak_rss_mb']:.0f} MB, N={args.rss_large}: "
        f"{large['peak_rss_mb']:.0f} MB, ratio {large['peak_rss_mb'] / small['peak_rss_mb']:.2f} (target: flat)"
    )


if __name__ == "__main__":
    main()
