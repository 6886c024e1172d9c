"""`flywheel report --csv`: one row per sample and metric, for spreadsheets. Cells that a spreadsheet would
run as a formula (model output starting with `=`, `+`, `-`, `@`, ...) are prefixed with a quote."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from runner.report.collect import Loaded

COLUMNS = [
    "eval", "model", "item", "metric", "score", "pass", "reason", "output", "error", "references",
    "latency_s", "prompt_tokens", "completion_tokens", "cost_usd",
]  # fmt: skip
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def rows(results: Iterable[Loaded]) -> Iterator[list[str]]:
    """The CSV rows (without the header) of every sample and metric."""
    for loaded in results:
        h = loaded.doc.header
        for item in loaded.doc.items:
            refs = "; ".join(f"{k}={v}" for k, v in item.references.items())
            tokens = item.tokens
            for metric, score in item.scores.items():
                yield [_cell(v) for v in (
                    h.eval, h.model.ref, item.id, metric, score.score, score.pass_, item.reasons.get(metric),
                    item.output, item.error, refs, item.latency_s, tokens.prompt if tokens else None,
                    tokens.completion if tokens else None, item.cost_usd,
                )]  # fmt: skip


def to_csv(results: Iterable[Loaded]) -> str:
    """The whole CSV text."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows(results))
    return buf.getvalue()
