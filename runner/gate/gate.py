"""The gate: compare the head's results with the base ref's baselines, under the base ref's policy.

Graders, metrics, floors and the regression policy are taken from the base ref, so a pull request that edits
them (or the baselines) cannot pass its own gate; the report says when it tried. When the baseline on the
base ref was computed under other dataset or grader hashes, the base side is evaluated in the same run on
the head's items (paired A/B) instead of comparing apples and oranges.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from runner.baselines.ledger import FOLDER
from runner.baselines.store import git, item_scores, read_at
from runner.documents.io import ScoredDocument, read_result
from runner.engine.calls import Caller
from runner.engine.run import ProgressSink, RunOptions, plan_model_run, run_eval
from runner.gate.samples import describe
from runner.gate.stats import Comparison, MetricInput, compare
from runner.hashing import content_hash
from runner.models.resolve import resolve_model
from runner.specs.evals import EvalSpec
from runner.specs.hashes import grader_hash
from runner.specs.kinds import EvalDoc
from runner.specs.loader import Located, SpecSet

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
class GateReport:
    """Every eval's gate, the policy edits the PR attempted, and the overall verdict."""

    base_ref: str
    base_sha: str
    evals: tuple[EvalGate, ...]
    policy_changes: tuple[str, ...]

    @property
    def verdict(self) -> Verdict:
        verdicts = {e.verdict for e in self.evals}
        return "FAIL" if "FAIL" in verdicts else "INCONCLUSIVE" if "INCONCLUSIVE" in verdicts else "PASS"

    @property
    def fails_on_inconclusive(self) -> bool:
        return any(e.verdict == "INCONCLUSIVE" and e.on_inconclusive == "fail" for e in self.evals)


def _policy(spec: EvalSpec) -> dict[str, Any]:
    return {"metrics": [m.model_dump(mode="json") for m in spec.metrics], "regression": spec.regression.model_dump()}


def policy_changes(head: SpecSet, base: SpecSet, root: Path, ref: str) -> list[str]:
    """What the PR changed of the gate's own inputs: policies, graders used by gated evals, baselines."""
    changes = []
    for name, located in sorted(base.evals.items()):
        head_eval = head.evals.get(name)
        if head_eval is None:
            changes.append(f"Eval '{name}' was removed")
        elif _policy(head_eval.doc.spec) != _policy(located.doc.spec):
            changes.append(f"Eval '{name}': metrics, floors or regression policy changed")
    used = sorted({m.grader for e in base.evals.values() for m in e.doc.spec.metrics})
    for grader in used:
        if grader in head.graders and grader_hash(head, grader) != grader_hash(base, grader):
            changes.append(f"Grader '{grader}' changed")
        elif grader not in head.graders:
            changes.append(f"Grader '{grader}' was removed")
    edited = git(root, "diff", "--name-only", ref, "--", FOLDER).split()
    edited += git(root, "ls-files", "--others", "--exclude-standard", "--", FOLDER).split()
    changes.extend(f"{path} edited" for path in sorted(set(edited)))
    return changes


def _with_base_policy(head: SpecSet, base: SpecSet, eval_name: str) -> SpecSet:
    """Head specs whose Eval `eval_name` uses the base ref's metrics and policy and whose graders are the
    base ref's versions."""
    head_eval = head.evals[eval_name]
    base_spec = base.evals[eval_name].doc.spec
    spec = head_eval.doc.spec.model_copy(
        update={"metrics": base_spec.metrics, "regression": base_spec.regression, "budget": base_spec.budget}
    )
    doc = head_eval.doc.model_copy(update={"spec": spec})
    evals = {**head.evals, eval_name: replace(head_eval, doc=doc)}
    graders = {**head.graders, **{m.grader: base.graders[m.grader] for m in base_spec.metrics}}
    return replace(head, evals=evals, graders=graders)


def _on_head_items(base: SpecSet, head: SpecSet, eval_name: str) -> SpecSet:
    """Base specs whose Eval reads the head's dataset items (same ids, current content)."""
    base_ds = base.evals[eval_name].doc.spec.dataset
    head_ds = head.evals[eval_name].doc.spec.dataset
    return replace(base, data={**base.data, base_ds: head.data[head_ds]})


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


async def run_gate(
    head: SpecSet,
    base: SpecSet,
    ref: str,
    base_sha: str,
    caller: Caller,
    state_dir: Path,
    progress: ProgressSink,
) -> GateReport:
    """Gate every Eval of the base ref that the head still has."""
    gates: list[EvalGate] = []
    for eval_name in sorted(base.evals):
        base_eval: Located[EvalDoc] = base.evals[eval_name]
        policy = base_eval.doc.spec.regression
        if eval_name not in head.evals:
            gates.append(
                EvalGate(
                    eval_name,
                    "-",
                    "INCONCLUSIVE",
                    None,
                    "none",
                    "removed in this pull request: cannot be evaluated",
                    policy.on_inconclusive,
                    (),
                    base_eval.shown,
                    base_eval.line,
                    0,
                    0.0,
                )
            )
            continue
        head_specs = _with_base_policy(head, base, eval_name)
        head_located = head_specs.evals[eval_name]
        for base_ref, head_ref in _pair_models(base_eval.doc.spec.models, head_located.doc.spec.models):
            gates.append(
                await _gate_one(head_specs, base, eval_name, base_ref, head_ref, ref, caller, state_dir, progress)
            )
    return GateReport(ref, base_sha, tuple(gates), tuple(policy_changes(head, base, head.root, ref)))


async def _gate_one(
    head: SpecSet,
    base: SpecSet,
    eval_name: str,
    base_ref: str,
    head_ref: str,
    ref: str,
    caller: Caller,
    state_dir: Path,
    progress: ProgressSink,
) -> EvalGate:
    located = head.evals[eval_name]
    spec = located.doc.spec
    spent = caller.spend.usd
    slug = resolve_model(base, base_ref).slug
    baseline = read_at(head.root, ref, f"{FOLDER}/{eval_name}/{slug}.json")
    if caller.use_cache and baseline is not None and base_ref == head_ref:
        run_id = plan_model_run(head, eval_name, head_ref, RunOptions(state_dir / "gate" / "head")).run_id
        if baseline.header.run_id == run_id:
            # Same prompt, items, graders, policy, model and sampling as the baseline: the head would send the
            # same requests and grade them the same way, so there is nothing to run or compare (provider drift
            # is the scheduled drift check's job, which runs with --no-cache).
            return EvalGate(
                eval_name,
                head_ref,
                "PASS",
                None,
                "baseline",
                f"unchanged: same run inputs as baselines/{eval_name}/{slug}.json on {ref}; not re-run",
                spec.regression.on_inconclusive,
                (),
                located.shown,
                located.line,
                0,
                0.0,
            )
    [head_run] = await run_eval(
        head, eval_name, RunOptions(state_dir / "gate" / "head", models=(head_ref,)), caller, progress
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
        note = f"base: baselines/{eval_name}/{slug}.json on {ref}"
    else:
        why = "no baseline on the base ref" if baseline is None else "the baseline's dataset or graders differ"
        base_specs = _on_head_items(base, head, eval_name)
        [base_run] = await run_eval(
            base_specs, eval_name, RunOptions(state_dir / "gate" / "base", models=(base_ref,)), caller, progress
        )
        base_doc = read_result(base_run.path)
        source = "evaluated"
        note = f"base: {base_ref} evaluated in this run on the head's items ({why})"
    head_doc = read_result(head_run.path)
    comparison, flips, n = paired_compare(head, spec, base_doc, head_doc)
    flips = list(describe(flips, base_doc, head_doc, state_dir / "gate" / "head"))
    if comparison is None:
        verdict: Verdict = "INCONCLUSIVE"
        note += "; no gated metric with paired items"
    else:
        verdict = comparison.verdict
    model = head_ref if head_ref == base_ref else f"{base_ref} -> {head_ref}"
    return EvalGate(
        eval_name,
        model,
        verdict,
        comparison,
        source,
        note,
        spec.regression.on_inconclusive,
        tuple(flips),
        located.shown,
        located.line,
        n,
        caller.spend.usd - spent,
        {m.name: located.line_of(("spec", "metrics", i)) for i, m in enumerate(spec.metrics)},
        tuple(
            Informational(
                m.name,
                base_doc.header.metrics[m.name].value if m.name in base_doc.header.metrics else None,
                head_doc.header.metrics[m.name].value,
            )
            for m in spec.metrics
            if not m.gate and m.name in head_doc.header.metrics
        ),
    )


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
