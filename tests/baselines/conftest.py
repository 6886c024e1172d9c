"""Baseline fixtures: the engine's fake server and fixture repo."""

from tests.engine.conftest import engine_repo, fake  # noqa: F401 - fixtures used by the baseline tests
