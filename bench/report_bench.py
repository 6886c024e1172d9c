"""The HTML report at N=10,000 samples: page size and build time, then (with Chromium on PATH) the time until
the page is ready and a filter has re-rendered.

    .venv/bin/python -m bench.report_bench [--n 10000] [--no-browser]

Prints each figure against its target as a ratio (<= 1.0 meets it)."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from runner.documents.io import write_document
from runner.documents.results import (
    GitInfo,
    Hashes,
    ItemRecord,
    MetricResult,
    ModelInfo,
    Provenance,
    ResultHeader,
    Score,
    Tokens,
    Usage,
)
from runner.report.build import build
from runner.report.collect import Sources, load_results
from runner.report.html import render

SIZE_TARGET = 3_000_000
"""Bytes: 'a few MB' for 10,000 samples."""
BUILD_TARGET_S = 10.0
READY_TARGET_S = 3.0


def _header(n: int) -> ResultHeader:
    metric = MetricResult(aggregate="pass_rate", value=0.33, n=n, ci_low=0.32, ci_high=0.34, ci_method="wilson",
                          errors=0, floor_ok=True, grader="exact", direction="higher_is_better")  # fmt: skip
    return ResultHeader(
        eval="triage", run_id="r", model=ModelInfo(ref="local", id="smollm2", endpoint="local", sampling={}),
        dataset="tickets", split="test", repeats=1, reduce="mean", n_items=n, completed_cells=n, failed_cells=0,
        failed_items=0,
        metrics={"accuracy": metric},
        usage=Usage(prompt_tokens=0, completion_tokens=0, cost_usd=0, cached_cells=0, errors=0, mean_latency_s=0,
                    estimate_usd=0),
        provenance=Provenance(flywheel_version="bench", git=GitInfo(commit=None, dirty=None), created="now",
                              hashes=Hashes(eval="e", prompt="p", dataset="d", graders={})),
    )  # fmt: skip


def _items(n: int) -> list[ItemRecord]:
    queues = ["billing", "shipping", "technical", "account", "other"]
    return [
        ItemRecord(
            id=f"ticket-{i:05d}",
            scores={"accuracy": Score(score=float(i % 3 == 0), pass_=float(i % 3 == 0))},
            references={"label": queues[i % 5]},
            output=f"{queues[(i + i % 3) % 5]} - the customer writes about order {i} and asks for help",
            error=None,
            reasons={},
            repeats=1,
            cost_usd=0.0,
            latency_s=0.2,
            tokens=Tokens(prompt=150, completion=8),
        )
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / ".flywheel"
        write_document(state / "results" / "triage" / "local.json", _header(args.n), _items(args.n))
        start = time.perf_counter()
        sources = Sources(load_results(state, None), None, (), (), ())
        page = render(build(sources, "bench"))
        build_s = time.perf_counter() - start
        html = Path(tmp) / "report.html"
        html.write_text(page, encoding="utf-8")
        size = html.stat().st_size
        print(f"N={args.n}: page {size / 1e6:.2f} MB (ratio {size / SIZE_TARGET:.2f} of 3 MB)")
        print(f"build {build_s:.2f} s (ratio {build_s / BUILD_TARGET_S:.2f} of {BUILD_TARGET_S:.0f} s)")
        executable = shutil.which("chromium")
        if args.no_browser or executable is None:
            print("browser: skipped" + ("" if args.no_browser else " (no chromium on PATH)"))
            return
        from playwright.sync_api import sync_playwright  # noqa: PLC0415

        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=executable, args=["--no-sandbox"] if os.geteuid() == 0 else [], headless=True
            )
            page_ = browser.new_page()
            start = time.perf_counter()
            page_.goto(html.as_uri())
            page_.wait_for_selector("body[data-ready='1']", timeout=60_000)
            ready_s = time.perf_counter() - start
            start = time.perf_counter()
            page_.select_option("#filter", "failing")
            filter_s = time.perf_counter() - start
            shown = page_.locator("#count").inner_text()
            browser.close()
        print(f"ready {ready_s:.2f} s (ratio {ready_s / READY_TARGET_S:.2f} of {READY_TARGET_S:.0f} s)")
        print(f"filter to failing {filter_s * 1000:.0f} ms: {shown}")


if __name__ == "__main__":
    main()
