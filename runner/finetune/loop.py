"""One turn of the flywheel for one recipe: build and validate the data, train (find-or-create), register the
challenger, gate it against the champion on the promotion Eval, move the alias on PASS, write lineage.

Every step is idempotent, so a killed `apply` resumes: the data is rebuilt identically, the backend finds the
job by its recipe hash and goes on waiting, the challenger is registered under the same id, the promotion runs
are cached, and a lineage line is written once per (recipe, job, decision).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.baselines.ledger import FOLDER
from runner.baselines.store import write_baseline
from runner.documents.io import read_result
from runner.engine.calls import Caller
from runner.engine.judge import EngineJudge
from runner.engine.provenance import provenance
from runner.engine.requests import build_request
from runner.engine.run import ModelRun, ProgressSink, RunOptions, run_eval
from runner.errors import FinetuneError
from runner.finetune import aliases, lineage
from runner.finetune.backends.base import Backend, JobRequest, JobStatus
from runner.finetune.backends.registry import make_backend
from runner.finetune.data import base_model_id, recipe_hash
from runner.finetune.validate import ValidatedTraining, validate_recipe
from runner.gate.gate import paired_inputs
from runner.gate.stats import Comparison, compare, superiority
from runner.graders.base import GradeContext, Sample
from runner.graders.openai_json import to_openai
from runner.graders.registry import grade
from runner.models.resolve import resolve_model
from runner.specs.common import parse_model_ref
from runner.specs.finetune import FineTuneSpec
from runner.specs.loader import SpecSet, reload_specs

BackendFactory = Callable[[FineTuneSpec, SpecSet], Backend]


@dataclass(frozen=True)
class RetrainOutcome:
    """What one retraining did."""

    recipe: str
    job: JobStatus
    model_id: str | None
    decision: str
    """`promoted`, `kept` (FAIL or INCONCLUSIVE: the champion stays), `trained` (no promotion rule) or
    `failed` (the job failed)."""
    reason: str
    comparison: Comparison | None
    data: ValidatedTraining
    runs: tuple[ModelRun, ...] = ()
    """The promotion Eval's runs of champion and challenger (none without a promotion rule)."""


def default_backend(spec: FineTuneSpec, specs: SpecSet) -> Backend:
    """The recipe's backend, configured from its base Model spec (key env var, base URL, cutoff)."""
    if spec.backend == "openai":
        name = parse_model_ref(spec.base_model)[0]
        model = specs.models[name].doc.spec
        env = model.key_env
        key = os.environ.get(env) if env else None
        if not key:
            how = f"export {env}" if env else "set `api_key_env` on the Model"
            raise FinetuneError(
                f"the openai fine-tuning backend needs the key of Model '{name}' (its base_model); {how}, "
                "or use `backend: local`"
            )
        return make_backend("openai", api_key=key, base_url=model.base_url, cutoff=spec.openai_cutoff)
    return make_backend(spec.backend)


def _distill_helpers(
    specs: SpecSet, spec: FineTuneSpec, caller: Caller, loop: asyncio.AbstractEventLoop
) -> tuple[Callable[..., str], Callable[..., bool]]:
    """Blocking teacher and grader callables for `validate_recipe`, which runs in a worker thread: each call is
    scheduled on the engine's loop (so it is cached, budgeted and recorded like any eval call)."""
    assert spec.teacher is not None
    teacher = resolve_model(specs, spec.teacher)
    prompt = specs.prompts[spec.training.prompt].doc.spec

    def ask(messages: list[dict[str, Any]]) -> str:
        request = build_request(teacher, prompt, [dict(m) for m in messages])
        future = asyncio.run_coroutine_threadsafe(caller.call(teacher, request, 0, f"teacher {spec.teacher}"), loop)
        return future.result().response.text or ""

    def accept(item: Mapping[str, Any], answer: str) -> bool:
        async def all_pass() -> bool:
            judge = EngineJudge(specs, caller, 0, "distill filter")
            for name in spec.graders:
                located = specs.graders[name]
                ctx = GradeContext(judge=judge, spec_dir=located.file.parent)
                if not (await grade(located.doc.spec, Sample(answer), item, ctx)).passed:
                    return False
            return True

        return asyncio.run_coroutine_threadsafe(all_pass(), loop).result()

    return ask, accept


async def prepare(specs: SpecSet, name: str, caller: Caller, work_root: Path) -> ValidatedTraining:
    """Build and validate the recipe's training data (nothing is uploaded or trained)."""
    spec = specs.finetunes[name].doc.spec
    work = work_root / name / "data"
    if spec.method == "distill":
        ask, accept = _distill_helpers(specs, spec, caller, asyncio.get_running_loop())
        return await asyncio.to_thread(validate_recipe, specs, name, work, teacher=ask, accept=accept)
    return await asyncio.to_thread(validate_recipe, specs, name, work)


def _grader_json(specs: SpecSet, spec: FineTuneSpec) -> dict[str, Any] | None:
    if spec.method != "rft":
        return None
    graders = [
        to_openai(
            specs.graders[g].doc.spec,
            g,
            model_id=lambda ref: resolve_model(specs, ref).model_id,
            spec_dir=specs.graders[g].file.parent,
        )
        for g in spec.graders
    ]
    if len(graders) == 1:
        return graders[0]
    total = " + ".join(f"{g['name']}" for g in graders)  # the mean of the graders' scores
    return {"type": "multi", "name": spec.graders[0], "graders": {g["name"]: g for g in graders},
            "calculate_output": f"({total}) / {len(graders)}"}  # fmt: skip


async def retrain(
    specs: SpecSet,
    name: str,
    caller: Caller,
    state_dir: Path,
    progress: ProgressSink,
    *,
    backend_factory: BackendFactory = default_backend,
    log: Callable[[str], None] = print,
) -> RetrainOutcome:
    """Train recipe `name`, then promote or keep the champion; see the module docstring."""
    spec = specs.finetunes[name].doc.spec
    base_name = parse_model_ref(spec.base_model)[0]
    work_root = state_dir / "finetune"
    data = await prepare(specs, name, caller, work_root)
    rhash = recipe_hash(specs, name, data.data_hash)
    cost = f", about ${data.tokens.usd:.2f}" if data.tokens.usd is not None else ""
    log(
        f"{name}: {data.training.n_examples} {spec.method} examples, {data.tokens.total_tokens} training tokens"
        f"{cost}; no overlap with {', '.join(data.evals_checked) or 'any eval'}"
    )
    request = JobRequest(
        recipe=name,
        recipe_hash=rhash,
        method=spec.method,
        base_model=base_model_id(specs, spec),
        training_file=data.training.path,
        hyperparameters=spec.hyperparameters,
        work_dir=work_root / rhash[:16],
        validation_file=data.validation.path if data.validation else None,
        suffix=spec.suffix,
        grader=_grader_json(specs, spec),
    )
    request.work_dir.mkdir(parents=True, exist_ok=True)
    backend = backend_factory(spec, specs)
    job = await asyncio.to_thread(backend.submit, request)
    log(f"{name}: {backend.name} job {job.job_id} {job.status}")

    seen: dict[str, Any] = {"status": job.status, "logged": 0.0}

    def report(status: JobStatus) -> None:
        # Backends report often (the local one every step): log status changes, and progress at most every 30 s.
        now = time.monotonic()
        if status.status == seen["status"] and now - float(seen["logged"]) < 30:
            return
        seen.update(status=status.status, logged=now)
        last = status.metrics[-1] if status.metrics else {}
        loss = f", step {last.get('step')} loss {last['train_loss']:.3f}" if "train_loss" in last else ""
        log(f"{name}: job {status.job_id} {status.status}{loss}")

    job = await asyncio.to_thread(backend.wait, job, request, report)
    entry: dict[str, Any] = {
        "recipe": name,
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": provenance(specs.root)["git"]["commit"],
        "data_hash": data.data_hash,
        "recipe_hash": rhash,
        "training_file_sha256": data.training.sha256,
        "n_examples": data.training.n_examples,
        "backend": backend.name,
        "job_id": job.job_id,
        "base_model": request.base_model,
        "model_id": job.fine_tuned_model,
        "trained_tokens": job.trained_tokens,
    }
    if job.status != "succeeded" or not job.fine_tuned_model:
        reason = f"job {job.job_id} {job.status}: {job.error or 'no model produced'}"
        lineage.append(specs.root, entry | {"decision": "failed", "reason": reason, "model_id": None})
        raise FinetuneError(f"FineTune/{name}: {reason}; the champion stays")
    model_id = job.fine_tuned_model
    if job.adapter_path:
        aliases.register_adapter(specs, base_name, model_id, Path(job.adapter_path))
    promotion = spec.promotion
    challenger_alias = promotion.challenger_alias if promotion else "challenger"
    aliases.set_alias(specs, base_name, challenger_alias, model_id)
    specs = reload_specs(specs)
    if promotion is None:
        aliases.prune_adapters(specs, base_name)
        lineage.append(specs.root, entry | {"decision": "trained", "reason": "no promotion rule"})
        return RetrainOutcome(name, job, model_id, "trained", "no promotion rule", None, data)
    gated = await _promote(specs, name, rhash, caller, state_dir, progress)
    comparison, decision, reason = gated.comparison, gated.decision, gated.reason
    entry |= {"decision": decision, "reason": reason, "eval": promotion.eval, "reports": dict(gated.reports)}
    if comparison is not None:
        entry["metrics"] = [
            {"name": m.name, "champion": m.base_value, "challenger": m.head_value, "delta": m.delta,
             "p_worse": m.p_value, "p_better": p, "n": m.n, "verdict": m.verdict}
            for m, p in zip(comparison.metrics, gated.p_better, strict=True)
        ]  # fmt: skip
    if decision == "promoted":
        aliases.set_alias(specs, base_name, promotion.alias, model_id)
    aliases.prune_adapters(specs, base_name)
    lineage.append(specs.root, entry)
    return RetrainOutcome(name, job, model_id, decision, reason, comparison, data, gated.runs)


@dataclass(frozen=True)
class _Decision:
    comparison: Comparison | None
    p_better: Sequence[float]
    """Per gated metric, the Holm-adjusted p-value of "the challenger is better"."""
    decision: str
    """`promoted` or `kept`."""
    reason: str
    reports: Mapping[str, str]
    """Scores-only copies of the two results the gate read (`champion`, `challenger`), committed with the baselines
    under `baselines/promotions/<recipe>/<recipe hash>/`, relative to the repository root (they outlive CI)."""
    runs: tuple[ModelRun, ...] = ()
    """Champion's and challenger's runs of the promotion Eval."""


async def _promote(
    specs: SpecSet, name: str, rhash: str, caller: Caller, state_dir: Path, progress: ProgressSink
) -> _Decision:
    """Evaluate champion and challenger on the promotion Eval with the paired gate and decide."""
    spec = specs.finetunes[name].doc.spec
    promotion = spec.promotion
    assert promotion is not None
    base_name = parse_model_ref(spec.base_model)[0]
    champion = f"{base_name}@{promotion.against}"
    challenger = f"{base_name}@{promotion.challenger_alias}"
    folder = state_dir / "finetune" / name / "promotion" / rhash[:16]  # one per trained model: lineage points here
    eval_spec = specs.evals[promotion.eval].doc.spec
    [base_run] = await run_eval(specs, promotion.eval, RunOptions(folder / "champion", models=(champion,)), caller,
                                progress)  # fmt: skip
    [head_run] = await run_eval(specs, promotion.eval, RunOptions(folder / "challenger", models=(challenger,)),
                                caller, progress)  # fmt: skip
    base_doc = read_result(base_run.path)
    head_doc = read_result(head_run.path)
    kept = specs.root / FOLDER / "promotions" / name / rhash[:16]
    reports = {}
    for side, run in (("champion", base_run), ("challenger", head_run)):
        write_baseline(kept / f"{side}.json", run.path)
        reports[side] = _shown(kept / f"{side}.json", specs.root)
    inputs, _, n = paired_inputs(specs, eval_spec, base_doc, head_doc)
    if not inputs or n == 0:
        reason = f"{promotion.eval}: no gated metric with paired items; the champion stays"
        return _Decision(None, (), "kept", reason, reports, (base_run, head_run))
    reg = eval_spec.regression
    comparison = compare(inputs, alpha=reg.alpha, bootstrap_samples=reg.bootstrap_samples, seed=reg.seed)
    p_better = superiority(inputs, alpha=reg.alpha, bootstrap_samples=reg.bootstrap_samples, seed=reg.seed)
    summary = "; ".join(
        f"{m.name} {m.base_value:.3f} -> {m.head_value:.3f} ({m.verdict}: {m.reason}; p(better) {p:.3g})"
        for m, p in zip(comparison.metrics, p_better, strict=True)
    )
    where = f"{promotion.eval} on {n} items"
    why: str
    if comparison.verdict != "PASS":
        why = comparison.verdict
    elif promotion.require == "better":
        if any(p < reg.alpha for p in p_better):
            return _Decision(comparison, p_better, "promoted", f"{where}: {summary}", reports, (base_run, head_run))
        why = f"not significantly better (alpha {reg.alpha:g})"
    else:
        improved = any(
            m.delta * (1 if x.direction == "higher_is_better" else -1) > 0
            for m, x in zip(comparison.metrics, inputs, strict=True)
        )
        if improved:
            return _Decision(comparison, p_better, "promoted", f"{where}: {summary}", reports, (base_run, head_run))
        why = "not better"
    why = f"{where}: {why}; the champion stays ({summary})"
    return _Decision(comparison, p_better, "kept", why, reports, (base_run, head_run))


def _shown(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)
