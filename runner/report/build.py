"""The data a report page shows, built from its sources: a summary row per Eval x model x metric, the samples
of each Eval (capped), paired model comparisons, and for a gate the verdict's numbers and every flipped item
with base and head side by side. Pure apart from reading rendered inputs from the state folder."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from runner.documents.results import ItemRecord
from runner.engine.samples import load_input
from runner.gate.stats import MetricInput, compare
from runner.report import trim
from runner.report.collect import Loaded, Sources
from runner.report.trends import trend_svgs

FLOOR = {None: "-", True: "ok", False: "BROKEN"}


def build(sources: Sources, title: str) -> dict[str, Any]:
    """The page's data (JSON-ready)."""
    evals: dict[str, list[Loaded]] = {}
    for loaded in sources.results:
        evals.setdefault(loaded.doc.header.eval, []).append(loaded)
    return {
        "title": title,
        "generated": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "kind": "gate" if sources.gate is not None else "run",
        "summary": [row for group in evals.values() for row in _summary(group)],
        "evals": [
            {"name": name, "metrics": list(group[0].doc.header.metrics), "samples": list(_samples(group))}
            for name, group in evals.items()
        ],
        "comparisons": [row for group in evals.values() for row in _comparisons(group)],
        "gate": None if sources.gate is None else _gate(sources.gate, sources.results, sources.gate_base),
        "trends": trend_svgs(sources.history, sources.lineage),
    }


def _summary(group: Sequence[Loaded]) -> Iterable[dict[str, Any]]:
    for loaded in group:
        h = loaded.doc.header
        for name, m in h.metrics.items():
            yield {
                "eval": h.eval, "model": h.model.ref, "metric": name, "aggregate": m.aggregate, "value": m.value,
                "ci_low": m.ci_low, "ci_high": m.ci_high, "ci_method": m.ci_method, "n": m.n, "errors": m.errors,
                "floor": FLOOR[m.floor_ok], "cost_usd": h.usage.cost_usd,
            }  # fmt: skip


def sample(item: ItemRecord, loaded: Loaded, inputs: dict[str, Any]) -> dict[str, Any]:
    """One sample as the page shows it; `inputs` caches rendered inputs by reference."""
    cuts: dict[str, list[int]] = {}
    ref = item.input_ref
    if ref is not None and ref not in inputs:
        inputs[ref] = load_input(loaded.state_dir, ref)
    passed = {k: s.pass_ for k, s in item.scores.items()}
    return {
        "id": item.id,
        "model": loaded.doc.header.model.ref,
        "input": trim.messages(inputs.get(ref) if ref else None, cuts),
        "references": trim.mapping(item.references, trim.REFERENCE, "references", cuts),
        "output": trim.text(item.output, trim.TEXT, "output", cuts),
        "error": trim.text(item.error, trim.TEXT, "error", cuts),
        "scores": {k: [s.score, s.pass_] for k, s in item.scores.items()},
        "failing": any(p < 1 for p in passed.values()),
        "reasons": trim.mapping(item.reasons, trim.REASON, "reasons", cuts),
        "latency_s": item.latency_s,
        "tokens": None if item.tokens is None else [item.tokens.prompt, item.tokens.completion],
        "cost_usd": item.cost_usd,
        "capped": item.capped,
        "cuts": cuts,
    }


def _samples(group: Sequence[Loaded]) -> Iterable[dict[str, Any]]:
    inputs: dict[str, Any] = {}
    for loaded in group:
        for item in loaded.doc.items:
            yield sample(item, loaded, inputs)


def _comparisons(group: Sequence[Loaded]) -> Iterable[dict[str, Any]]:
    """Each further model against the first, paired by item, every metric (a plain paired test, margin 0)."""
    if len(group) < 2:
        return
    first = group[0].doc
    for other in group[1:]:
        doc = other.doc
        inputs = []
        for name, metric in first.header.metrics.items():
            if name not in doc.header.metrics:
                continue
            a = {i.id: _value(i, name, metric.aggregate) for i in first.items}
            b = {i.id: _value(i, name, metric.aggregate) for i in doc.items}
            ids = [i for i in a if i in b and a[i] is not None and b[i] is not None]
            if ids:
                base, head = [float(a[i] or 0) for i in ids], [float(b[i] or 0) for i in ids]
                inputs.append(MetricInput(name, metric.aggregate, metric.direction, base, head, min_effect=0.0))
        if not inputs:
            continue
        for m in compare(inputs).metrics:
            yield {
                "eval": first.header.eval, "base": first.header.model.ref, "head": doc.header.model.ref,
                "metric": m.name, "base_value": m.base_value, "head_value": m.head_value, "delta": m.delta,
                "ci_low": m.ci_low, "ci_high": m.ci_high, "p_value": m.p_value, "n": m.n, "b": m.b, "c": m.c,
                "test": m.test,
            }  # fmt: skip


def _value(item: ItemRecord, metric: str, aggregate: str) -> float | None:
    s = item.scores.get(metric)
    if s is None:
        return None
    return s.pass_ if aggregate == "pass_rate" else s.score


def _find(loaded: Sequence[Loaded], eval_name: str, ref: str) -> Loaded | None:
    return next((x for x in loaded if x.doc.header.eval == eval_name and x.doc.header.model.ref == ref), None)


def _gate(report: Mapping[str, Any], head: Sequence[Loaded], base: Sequence[Loaded]) -> dict[str, Any]:
    evals = []
    for g in report.get("evals", []):
        model = str(g.get("model", ""))
        base_ref, _, head_ref = model.partition(" -> ")
        head_ref = head_ref or base_ref
        head_doc = _find(head, str(g.get("eval")), head_ref)
        base_doc = _find(base, str(g.get("eval")), base_ref)
        head_items = {i.id: i for i in head_doc.doc.items} if head_doc else {}
        base_items = {i.id: i for i in base_doc.doc.items} if base_doc else {}
        inputs: dict[str, Any] = {}
        flips = []
        for f in g.get("flips", []):
            item_id = str(f.get("item"))
            h, b = head_items.get(item_id), base_items.get(item_id)
            flips.append(
                {
                    "item": item_id,
                    "metric": f.get("metric"),
                    "base": f.get("base"),
                    "head": f.get("head"),
                    "head_sample": sample(h, head_doc, inputs) if h and head_doc else None,
                    "base_sample": sample(b, base_doc, inputs) if b and base_doc else None,
                }
            )
        evals.append({**{k: v for k, v in g.items() if k != "flips"}, "flips": flips})
    return {
        "verdict": report.get("verdict"),
        "base": report.get("base"),
        "policy_changes": report.get("policy_changes", []),
        "evals": evals,
    }
