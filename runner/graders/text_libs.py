"""Which library each local `text_similarity` metric needs. They come with the `text` extra
(`pip install 'flywheel-evals[text]'`), so a project without such graders does not install nltk and friends;
`validate` (and therefore every command that loads specs) names a missing one before anything is spent."""

from __future__ import annotations

import importlib.util

from runner.errors import FlywheelError

LIBRARIES: dict[str, str] = {
    "fuzzy_match": "rapidfuzz",
    "bleu": "sacrebleu",
    "gleu": "nltk",
    "meteor": "nltk",
    **{f"rouge_{n}": "rouge_score" for n in (1, 2, 3, 4, 5, "l")},
}
"""evaluation_metric -> the module it imports."""

INSTALL = "pip install 'flywheel-evals[text]'"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ValueError:  # in sys.modules as None: blocked on purpose
        return False


def missing_library(metric: str) -> str | None:
    """Why `metric` cannot run here (its library is not installed), or None when it can."""
    module = LIBRARIES.get(metric)
    if module is None or _installed(module):
        return None
    return f"evaluation_metric '{metric}' needs the {module} library, which is not installed; run: {INSTALL}"


def require(metric: str) -> None:
    """Raise a clear error (exit 1) when `metric`'s library is missing."""
    if (reason := missing_library(metric)) is not None:
        raise FlywheelError(reason)
