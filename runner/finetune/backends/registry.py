"""The one dict of fine-tuning backends, by the names a FineTune spec's `backend` field takes.

Factories import their module on call, so looking a backend up never imports torch (local) or the SDK (openai)
for a backend that is not used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runner.errors import FinetuneError
from runner.finetune.backends.base import Backend

# Imports inside the factories are the point (see the module docstring).
# ruff: noqa: PLC0415


def _fake(**options: Any) -> Backend:
    from runner.finetune.backends.fake import FakeBackend

    return FakeBackend(**options)


def _local(**options: Any) -> Backend:
    from runner.finetune.backends.local import LocalBackend

    return LocalBackend(**options)


def _openai(**options: Any) -> Backend:
    from runner.finetune.backends.openai import OpenAIBackend

    return OpenAIBackend.connect(**options)


BACKENDS: dict[str, Callable[..., Backend]] = {"fake": _fake, "local": _local, "openai": _openai}
"""Name -> factory taking the backend's keyword options (openai: those of `OpenAIBackend.connect`)."""


def make_backend(name: str, **options: Any) -> Backend:
    """The backend called `name`, built with `options`."""
    factory = BACKENDS.get(name)
    if factory is None:
        known = ", ".join(sorted(BACKENDS))
        raise FinetuneError(f"unknown fine-tuning backend {name!r}; use one of: {known}")
    return factory(**options)
