"""Which results may become baselines. A baseline is what every later pull request is judged against, so it
must be a whole run of the Eval as the specs define it: unless `--allow-partial`, never a `--limit` run, another
number of repeats or a model the Eval does not list. (Results of a model whose alias a retraining moved since
are still written: `apply` runs the evals, then retrains.)"""

from __future__ import annotations

from runner.documents.results import ResultHeader
from runner.specs.loader import SpecSet


def failed_reason(result: ResultHeader) -> str | None:
    """Why `result` may never become a baseline, even with `--allow-partial`: cells failed after their retries."""
    if result.failed_cells:
        return (
            f"{result.failed_cells} cell(s) failed after their retries "
            f"({result.failed_items} item(s) missing, never scored)"
        )
    return None


def partial_reasons(specs: SpecSet, result: ResultHeader) -> list[str]:
    """Why `result` is only part of its Eval (empty when it is a whole run)."""
    spec = specs.evals[result.eval].doc.spec
    reasons: list[str] = []
    ref = result.model.ref
    if ref not in spec.models:
        reasons.append(f"model '{ref}' is not one of the Eval's models ({', '.join(spec.models)})")
    items = len(specs.data[spec.dataset].select(spec.split))
    if result.n_items != items:
        reasons.append(f"{result.n_items} of the Eval's {items} items (--limit)")
    if result.repeats != spec.repeats:
        reasons.append(f"repeats {result.repeats}, the Eval says {spec.repeats}")
    return reasons
