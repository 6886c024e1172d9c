"""Reconcile tests reuse the engine fixture repo and fake server."""

from tests.engine.conftest import engine_repo, fake

__all__ = ["engine_repo", "fake"]
