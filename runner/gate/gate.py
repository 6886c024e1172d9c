"""The gate: compare the head's results with the base ref's baselines, under the base ref's rules.

What decides the verdict (datasets, graders, judges, metrics, floors, policy, baselines, the set of gated Evals)
comes from the base ref; the head supplies its prompts and models (`runner/gate/inputs.py`, docs/trust.md). A
pull request that changes the gate's inputs FAILs, listing the changes, unless a maintainer approved them for
this head commit. When the baseline on the base ref was computed under other dataset or grader hashes, the base
side is evaluated in the same run on the same items (paired A/B) instead of comparing apples and oranges.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from runner.baselines.ledger import FOLDER
from runner.baselines.store import item_scores, read_at
from runner.documents.io import ScoredDocument, read_result
from runner.documents.results import ResultHeader
from runner.engine.calls import Caller
from runner.engine.run import ProgressSink, RunOptions, plan_model_run, run_eval
from runner.errors import ReplayMissError
from runner.gate.inputs import NO_CODE, Approval, DatasetDiff, GateInputs, base_side, metric_floor
from runner.gate.samples import describe
from runner.gate.stats import Comparison, MetricInput, compare
from runner.hashing import content_hash
from runner.models.pool import UntrustedKeyError
from runner.models.resolve import resolve_model
from runner.specs.common import parse_model_ref
from runner.specs.evals import EvalSpec
from runner.specs.loader import SpecSet

Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]


@dataclass(frozen=True)
class Flip:
    """An item whose pass/fail changed between base and head."""

    item: str
    metric: str
    base: float
    head: float
    input: str | None = None
    """An excerpt of the item's last user message, as rendered for the head."""
    expected: str | None = None
    """The values the graders compared against (the item's reference fields), excerpted."""
    base_output: str | None = None
    """An excerpt of the base's output (None when the base came from a baseline, which keeps scores only)."""
    head_output: str | None = None


@dataclass(frozen=True)
class EvalGate:
    """The gate of one (eval, model)."""

    eval: str
    model: str
    verdict: Verdict
    comparison: Comparison | None
    base_source: Literal["baseline", "evaluated", "none"]
    note: str
    on_inconclusive: Literal["pass", "warn", "fail"]
    flips: tuple[Flip, ...]
    spec_file: str
    spec_line: int
    n_paired: int
    cost_usd: float
    metric_lines: Mapping[str, int] = field(default_factory=dict)
    """Line of each metric's entry in the head's Eval spec (annotations point there)."""
    informational: tuple[Informational, ...] = ()
    """Metrics with `gate: false`: shown, never decided on."""


@dataclass(frozen=True)
class Informational:
    """A `gate: false` metric's value on base (None when the base did not record it) and head."""

    name: str
    base: float | None
    head: float


@dataclass(frozen=True)
class NewResult:
    """A metric the base ref does not gate (a new Eval, or a new metric of a gated one): run and shown."""

    eval: str
    model: str
    metric: str
    value: float | None
    floor: str
    floor_ok: bool | None
    note: str = ""


@dataclass(frozen=True)
class GateReport:
    """Every eval's gate, the changes the PR made to the gate's inputs, and the overall verdict."""

    base_ref: str
    base_sha: str
    evals: tuple[EvalGate, ...]
    policy_changes: tuple[str, ...]
    """Changes to the gate's inputs; without `approval` they FAIL the gate."""
    approval: Approval | None = None
    new: tuple[NewResult, ...] = ()
    datasets: tuple[DatasetDiff, ...] = ()
    notes: tuple[str, ...] = ()
    """What the gate ignored and why (forged state, the head's cassette, a stale approval)."""

    @property
    def unapproved(self) -> bool:
        """The pull request changes the gate's inputs and nobody approved that for this head commit."""
        return bool(self.policy_changes) and self.approval is None

    @property
    def verdict(self) -> Verdict:
        verdicts = {e.verdict for e in self.evals}
        if "FAIL" in verdicts or self.unapproved:
            return "FAIL"
        return "INCONCLUSIVE" if "INCONCLUSIVE" in verdicts else "PASS"

    @property
    def fails_on_inconclusive(self) -> bool:
        return any(e.verdict == "INCONCLUSIVE" and e.on_inconclusive == "fail" for e in self.evals)


def _missing_note(base_doc: ScoredDocument, head_doc: ScoredDocument) -> str:
    """Failed items (a provider failure after every retry) have no scores: they are left out of the pairs, never
    counted as 0. Say how many, so a thin comparison is not mistaken for a clean one."""
    counts = [
        f"{side} {n}"
        for side, doc in (("base", base_doc), ("head", head_doc))
        if (n := sum(1 for i in doc.items if getattr(i, "status", "ok") == "failed"))
    ]
    return f"; failed items left out as missing, never scored ({', '.join(counts)})" if counts else ""


def _scores(doc: ScoredDocument, metric: str, aggregate: str) -> dict[str, float]:
    return {i: (p if aggregate == "pass_rate" else s) for i, s, p in item_scores(doc, metric)}


def _pair_models(base_models: Sequence[str], head_models: Sequence[str]) -> list[tuple[str, str]]:
    pairs = []
    for i, ref in enumerate(base_models):
        if ref in head_models:
            pairs.append((ref, ref))
        elif i < len(head_models):
            pairs.append((ref, head_models[i]))  # the PR swapped the model: exactly what to compare
    return pairs


class _NotEvaluated(Exception):
    """The gate decided beforehand that a cell cannot be evaluated (no key for it, or code it may not run)."""


@dataclass(frozen=True)
class _Context:
    inputs: GateInputs
    base: SpecSet
    ref: str
    caller: Caller
    state_dir: Path
    progress: ProgressSink
    repo: Path
    """The git repository the base ref (and its baselines) is read from."""


def _not_evaluated(ctx: _Context, exc: Exception, what: str) -> str:
    if isinstance(exc, ReplayMissError):
        return (
            f"not evaluated (no secrets on forks): the cassette on {ctx.ref} has no recording of {what}; "
            "a maintainer can run the gate with secrets"
        )
    return f"not evaluated: {exc}"


async def run_gate(
    inputs: GateInputs,
    base: SpecSet,
    ref: str,
    base_sha: str,
    caller: Caller,
    state_dir: Path,
    progress: ProgressSink,
    tree_notes: Sequence[str] = (),
    repo: Path | None = None,
) -> GateReport:
    """Gate every Eval of the base ref under `inputs`; run the head's new Evals and metrics, ungated. `repo` is
    the git repository holding the base ref (default: the head specs' root)."""
    ctx = _Context(inputs, base, ref, caller, state_dir, progress, repo or inputs.specs.root)
    gates: list[EvalGate] = []
    new: list[NewResult] = []
    for eval_name in inputs.removed:
        located = base.evals[eval_name]
        verdict: Verdict = "PASS" if inputs.approval else "FAIL"
        note = "removed or renamed in this pull request" + (" (approved)" if inputs.approval else ": FAIL")
        gates.append(
            EvalGate(eval_name, "-", verdict, None, "none", note, located.doc.spec.regression.on_inconclusive,
                     (), located.shown, located.line, 0, 0.0)
        )  # fmt: skip
    for eval_name in inputs.gated:
        spec = inputs.specs.evals[eval_name].doc.spec
        for base_ref, head_ref in _pair_models(base.evals[eval_name].doc.spec.models, spec.models):
            gate, extra = await _gate_one(ctx, eval_name, base_ref, head_ref)
            gates.append(gate)
            new.extend(extra)
        new.extend(_skipped(ctx, eval_name))
    for eval_name in inputs.new_evals:
        new.extend(await _new_eval(ctx, eval_name))
    return GateReport(
        ref, base_sha, tuple(gates), inputs.changes, inputs.approval, tuple(new), inputs.datasets, tuple(tree_notes)
    )


def _skipped(ctx: _Context, eval_name: str) -> list[NewResult]:
    spec = ctx.inputs.specs.evals[eval_name].doc.spec
    note = f"not run: {NO_CODE}"
    names = ctx.inputs.skipped.get(eval_name, ())
    return [NewResult(eval_name, ref, m, None, "-", None, note) for ref in spec.models for m in names]


async def _new_eval(ctx: _Context, eval_name: str) -> list[NewResult]:
    spec = ctx.inputs.specs.evals[eval_name].doc.spec
    out: list[NewResult] = _skipped(ctx, eval_name)
    for ref in spec.models:
        why = ctx.inputs.not_run.get(eval_name) or ctx.inputs.no_key.get(parse_model_ref(ref)[0])
        try:
            if why:
                raise _NotEvaluated(why)
            [run] = await run_eval(
                ctx.inputs.specs, eval_name, RunOptions(ctx.state_dir / "new", models=(ref,)), ctx.caller, ctx.progress
            )
        except (ReplayMissError, UntrustedKeyError, _NotEvaluated) as exc:
            note = _not_evaluated(ctx, exc, f"Eval '{eval_name}' on {ref}")
            out += [
                NewResult(eval_name, ref, m.name, None, metric_floor(spec, m.name), None, note) for m in spec.metrics
            ]
            continue
        out += _new_results(spec, eval_name, ref, run.result, [m.name for m in spec.metrics])
    return out


def _new_results(
    spec: EvalSpec, eval_name: str, ref: str, result: ResultHeader, names: Sequence[str]
) -> list[NewResult]:
    return [
        NewResult(eval_name, ref, name, result.metrics[name].value, metric_floor(spec, name),
                  result.metrics[name].floor_ok)
        for name in names
    ]  # fmt: skip


def _cell(ctx: _Context, eval_name: str, model: str, verdict: Verdict, note: str, **kw: Any) -> EvalGate:
    located = ctx.inputs.specs.evals[eval_name]
    spec = located.doc.spec
    return EvalGate(
        eval_name,
        model,
        verdict,
        kw.get("comparison"),
        kw.get("source", "none"),
        note,
        spec.regression.on_inconclusive,
        tuple(kw.get("flips", ())),
        located.shown,
        located.line,
        kw.get("n", 0),
        kw.get("cost", 0.0),
        {m.name: located.line_of(("spec", "metrics", i)) for i, m in enumerate(spec.metrics)},
        tuple(kw.get("informational", ())),
    )


async def _gate_one(ctx: _Context, eval_name: str, base_ref: str, head_ref: str) -> tuple[EvalGate, list[NewResult]]:
    head = ctx.inputs.specs
    spec = head.evals[eval_name].doc.spec
    caller = ctx.caller
    spent = caller.spend.usd
    model = head_ref if head_ref == base_ref else f"{base_ref} -> {head_ref}"
    slug = resolve_model(ctx.base, base_ref).slug
    baseline = read_at(ctx.repo, ctx.ref, f"{FOLDER}/{eval_name}/{slug}.json")
    if caller.use_cache and baseline is not None and base_ref == head_ref:
        run_id = plan_model_run(head, eval_name, head_ref, RunOptions(ctx.state_dir / "gate" / "head")).run_id
        if baseline.header.run_id == run_id:
            # Same prompt, items, graders, policy, model and sampling as the baseline: the head would send the
            # same requests and grade them the same way, so there is nothing to run or compare (provider drift
            # is the scheduled drift check's job, which runs with --no-cache).
            note = f"unchanged: same run inputs as baselines/{eval_name}/{slug}.json on {ctx.ref}; not re-run"
            return _cell(ctx, eval_name, head_ref, "PASS", note, source="baseline"), []
    why = ctx.inputs.not_run.get(eval_name) or ctx.inputs.no_key.get(parse_model_ref(head_ref)[0])
    try:
        if why:
            raise _NotEvaluated(why)
        [head_run] = await run_eval(
            head, eval_name, RunOptions(ctx.state_dir / "gate" / "head", models=(head_ref,)), caller, ctx.progress
        )
        hashes = head_run.result.provenance.hashes
        same = (
            baseline is not None
            and baseline.header.provenance.hashes.dataset == hashes.dataset
            and baseline.header.provenance.hashes.graders == hashes.graders
        )
        if same:
            assert baseline is not None
            base_doc: ScoredDocument = baseline
            source: Literal["baseline", "evaluated"] = "baseline"
            note = f"base: baselines/{eval_name}/{slug}.json on {ctx.ref}"
        else:
            why_run = "no baseline on the base ref" if baseline is None else "the baseline's dataset or graders differ"
            [base_run] = await run_eval(
                base_side(ctx.inputs, ctx.base, eval_name),
                eval_name,
                RunOptions(ctx.state_dir / "gate" / "base", models=(base_ref,)),
                caller,
                ctx.progress,
            )
            base_doc = read_result(base_run.path)
            source = "evaluated"
            note = f"base: {base_ref} evaluated in this run on the same items ({why_run})"
    except (ReplayMissError, UntrustedKeyError, _NotEvaluated) as exc:
        return _cell(ctx, eval_name, model, "FAIL", _not_evaluated(ctx, exc, f"Eval '{eval_name}' on {head_ref}")), []
    head_doc = read_result(head_run.path)
    note += _missing_note(base_doc, head_doc)
    comparison, flips, n = paired_compare(head, spec, base_doc, head_doc)
    flips = list(describe(flips, base_doc, head_doc, ctx.state_dir / "gate" / "head"))
    if comparison is None:
        verdict: Verdict = "INCONCLUSIVE"
        note += "; no gated metric with paired items"
    else:
        verdict = comparison.verdict
    extra = _new_results(spec, eval_name, head_ref, head_run.result, ctx.inputs.new_metrics.get(eval_name, ()))
    return (
        _cell(ctx, eval_name, model, verdict, note, comparison=comparison, source=source, flips=flips, n=n,
              cost=caller.spend.usd - spent, informational=_informational(spec, base_doc, head_doc, extra)),
        extra,
    )  # fmt: skip


def _informational(
    spec: EvalSpec, base_doc: ScoredDocument, head_doc: ScoredDocument, new: Sequence[NewResult]
) -> list[Informational]:
    """The `gate: false` metrics of the base ref's Eval (new metrics are reported as new, not here)."""
    fresh = {n.metric for n in new}
    return [
        Informational(
            m.name,
            base_doc.header.metrics[m.name].value if m.name in base_doc.header.metrics else None,
            head_doc.header.metrics[m.name].value,
        )
        for m in spec.metrics
        if not m.gate and m.name not in fresh and m.name in head_doc.header.metrics
    ]


def paired_compare(
    specs: SpecSet, spec: EvalSpec, base_doc: ScoredDocument, head_doc: ScoredDocument
) -> tuple[Comparison | None, list[Flip], int]:
    """Pair two result documents of Eval `spec` by item id and compare every gated metric (None when nothing
    pairs); also the flipped pass/fail items and the number of pairs."""
    inputs, flips, n = paired_inputs(specs, spec, base_doc, head_doc)
    if not inputs or n == 0:
        return None, flips, 0
    comparison = compare(
        inputs,
        alpha=spec.regression.alpha,
        bootstrap_samples=spec.regression.bootstrap_samples,
        seed=spec.regression.seed,
    )
    return comparison, flips, n


def paired_inputs(
    specs: SpecSet, spec: EvalSpec, base_doc: ScoredDocument, head_doc: ScoredDocument
) -> tuple[list[MetricInput], list[Flip], int]:
    """The gated metrics of Eval `spec` as paired score lists (items in both documents, in head order), the
    flipped pass/fail items and the number of pairs."""
    order = [i.id for i in head_doc.items]
    inputs: list[MetricInput] = []
    flips: list[Flip] = []
    clusters_field = specs.datasets[spec.dataset].doc.spec.cluster_field
    for metric in spec.metrics:
        if not metric.gate:
            continue
        b = _scores(base_doc, metric.name, metric.aggregate)
        h = _scores(head_doc, metric.name, metric.aggregate)
        ids = [i for i in order if i in b and i in h]
        clusters = None
        if clusters_field:
            by_id = {item.id: item for item in specs.data[spec.dataset].items}
            clusters = [str(by_id[i].data.get(clusters_field)) for i in ids]
        bounds = metric.value
        inputs.append(
            MetricInput(
                name=metric.name,
                aggregate=metric.aggregate,
                direction=metric.direction,
                base=[b[i] for i in ids],
                head=[h[i] for i in ids],
                min_effect=metric.min_effect if metric.min_effect is not None else spec.regression.min_effect,
                lower=bounds.lower if bounds else None,
                upper=bounds.upper if bounds else None,
                clusters=clusters,
            )
        )
        if metric.aggregate == "pass_rate":
            flips.extend(Flip(i, metric.name, b[i], h[i]) for i in ids if b[i] != h[i])
    return inputs, flips, len(inputs[0].base) if inputs else 0


def report_digest(report: GateReport) -> str:
    """A short hash identifying a report (used in the PR comment marker)."""
    return content_hash([report.base_sha, [(e.eval, e.model, e.verdict) for e in report.evals]])[:12]
