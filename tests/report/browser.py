"""A real Chromium (Debian's `chromium` package) driven by Playwright; never a downloaded browser.

In CI (`CI=true`) a missing browser fails the test: the browser tests must run there. Elsewhere they skip with
the reason and the fix."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; in CI the browser tests must run: scripts/test installs chromium when run as root")
    pytest.skip(f"{reason}; install it with: apt-get install chromium (scripts/test does, as root)")


@contextmanager
def chromium_page() -> Iterator[Any]:
    """A fresh page of a headless, offline Chromium."""
    executable = shutil.which("chromium")
    if executable is None:
        _missing("no `chromium` on PATH")
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415
    except ImportError:
        _missing("the `playwright` package is not installed (pip install -e '.[dev]')")
    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium refuses to run as root with its sandbox
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=args, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
            page = context.new_page()
            yield page
        finally:
            browser.close()


def screenshot(page: Any, folder: Path, name: str) -> Path:
    """Save a full-page screenshot under the test's output; also into $FLYWHEEL_SCREENSHOTS when set (CI uploads
    that folder as an artifact)."""
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    keep = os.environ.get("FLYWHEEL_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(keep) / name)
    return path


def open_report(page: Any, html: Path) -> None:
    page.goto(html.resolve().as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)
