"""Running one Eval: for each model, every (item, repeat) cell is rendered, called, graded and journaled,
with bounded concurrency, a budget checked before the first call, and resume after a kill."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from jinja2 import TemplateError

from runner.documents.io import write_document
from runner.documents.results import (
    GitInfo,
    Hashes,
    ItemRecord,
    MetricResult,
    ModelInfo,
    Provenance,
    ResultHeader,
    Score,
    Tokens,
    Usage,
)
from runner.engine.calls import BudgetExhausted, Caller
from runner.engine.cells import plan_model_run as identity_plan
from runner.engine.estimate import Estimate, estimate_run, is_free
from runner.engine.judge import EngineJudge
from runner.engine.metrics import ItemScore, reduce_repeats, summarise
from runner.engine.provenance import provenance
from runner.engine.requests import build_request, render_messages, sampling
from runner.engine.samples import MAX_OUTPUT, MAX_REASON, cap, reference_fields, references, store_input
from runner.errors import BudgetError, FlywheelError, ProviderError
from runner.graders.base import GradeContext, GradeResult, Sample
from runner.graders.registry import FATAL_STATUS, grade
from runner.hashing import content_hash
from runner.models.resolve import ResolvedModel, resolve_model
from runner.specs.datasets import Item
from runner.specs.evals import EvalSpec
from runner.specs.grader import Pairwise
from runner.specs.hashes import grader_hash
from runner.specs.loader import SpecSet


@dataclass(frozen=True)
class RunOptions:
    """How to run (settings of *what* to run live in the specs)."""

    state_dir: Path
    limit: int | None = None
    repeats: int | None = None
    models: tuple[str, ...] = ()


class ProgressSink(Protocol):
    """Receives progress; the CLI draws a bar, tests count."""

    def begin(self, label: str, total: int, done: int) -> None: ...

    def advance(self, spent_usd: float) -> None: ...

    def end(self) -> None: ...


@dataclass(frozen=True)
class ModelRun:
    """The outcome of one (eval, model) run."""

    model: ResolvedModel
    result: ResultHeader
    path: Path
    estimate: Estimate
    new_cells: int = 0
    """Cells run by this invocation; the rest came from the journal of an earlier one."""
    failed: tuple[str, ...] = ()
    """Ids (`item#repeat`) of the cells that failed after their retries; the next run retries them."""
    max_error_rate: float = 0.0
    """The Eval's allowance for failed cells."""

    @property
    def cells(self) -> int:
        return self.result.n_items * self.result.repeats

    @property
    def failures_allowed(self) -> bool:
        """Whether the failed cells are within the Eval's `max_error_rate`."""
        return len(self.failed) <= self.max_error_rate * self.cells

    def failure_message(self) -> str:
        """What failed and what to do, for the error line `run` and `apply` end with."""
        return (
            f"Eval '{self.result.eval}' on {self.model.ref}: {len(self.failed)} of {self.cells} cells failed after "
            f"their retries (max_error_rate {self.max_error_rate:g}); they are missing from the results, never "
            "scored; run again to retry them"
        )


@dataclass(frozen=True)
class _Plan:
    eval_name: str
    spec: EvalSpec
    items: tuple[Item, ...]
    repeats: int
    model: ResolvedModel
    run_id: str
    hashes: dict[str, Any]
    state_dir: Path
    references: tuple[str, ...]
    """Item fields the graders read, kept with each sample."""


def plan_model_run(specs: SpecSet, eval_name: str, ref: str, options: RunOptions) -> _Plan:
    """Everything that identifies a run of `eval_name` on `ref`; its hash is the run id (resume key)."""
    spec = specs.evals[eval_name].doc.spec
    model = resolve_model(specs, ref)
    items = specs.data[spec.dataset].select(spec.split)
    if options.limit is not None:
        items = items[: options.limit]
    repeats = options.repeats or spec.repeats
    prompt = specs.prompts[spec.prompt].doc.spec
    hashes = {
        "eval": content_hash(spec.model_dump(mode="json")),
        "prompt": content_hash(prompt.model_dump(mode="json", by_alias=True)),
        "dataset": specs.data[spec.dataset].hash,
        "graders": {m.grader: grader_hash(specs, m.grader) for m in spec.metrics},
    }
    # The run id is the identity module's (versioned, explicit fields, the split's items only).
    run_id = identity_plan(specs, eval_name, ref, options.limit, options.repeats).run_id
    graders = [m.grader for m in spec.metrics]
    return _Plan(
        eval_name, spec, items, repeats, model, run_id, hashes, options.state_dir, reference_fields(specs, graders)
    )


def _cells(plan: _Plan) -> Iterator[tuple[int, Item, int]]:
    for seq, item in enumerate(plan.items):
        for repeat in range(plan.repeats):
            yield seq, item, repeat


async def run_eval(
    specs: SpecSet, eval_name: str, options: RunOptions, caller: Caller, progress: ProgressSink
) -> list[ModelRun]:
    """Run `eval_name` on each of its models (or `options.models`); return one ModelRun per model."""
    spec = specs.evals[eval_name].doc.spec
    refs = options.models or tuple(spec.models)
    runs = []
    for ref in refs:
        plan = plan_model_run(specs, eval_name, ref, options)
        runs.append(await _run_model(specs, plan, options, caller, progress))
    return runs


async def _run_model(
    specs: SpecSet, plan: _Plan, options: RunOptions, caller: Caller, progress: ProgressSink
) -> ModelRun:
    if not caller.use_cache:
        caller.store.forget_run(plan.run_id)
    done = caller.store.completed(plan.run_id)
    budget = plan.spec.budget
    if budget is None and is_free(specs, plan.spec, plan.model):
        estimate = Estimate(0.0, 0, 0)  # nothing to check or to price: skip tokenising every prompt
    else:
        estimate = estimate_run(specs, plan.spec, plan.model, plan.items, plan.repeats, caller, done)
    if budget is not None:
        problems = []
        if budget.usd is not None and estimate.usd > budget.usd:
            problems.append(f"${estimate.usd:.4f} > budget ${budget.usd:.4f}")
        if budget.tokens is not None and estimate.tokens > budget.tokens:
            problems.append(f"{estimate.tokens} tokens > budget {budget.tokens}")
        if problems:
            raise BudgetError(
                f"Eval '{plan.eval_name}' on {plan.model.ref}: worst-case estimate {', '.join(problems)} "
                f"({estimate.calls} uncached calls); nothing was sent; raise `budget` or use --limit"
            )
        caller.spend.limit_usd = None if budget.usd is None else caller.spend.usd + budget.usd
        caller.spend.limit_tokens = None if budget.tokens is None else caller.spend.tokens + budget.tokens

    total = len(plan.items) * plan.repeats
    progress.begin(f"{plan.eval_name} · {plan.model.ref}", total, len(done))
    queue: asyncio.Queue[tuple[int, Item, int] | None] = asyncio.Queue(maxsize=256)
    workers = max(1, plan.model.spec.limits.concurrency)
    stopped: list[str] = []
    new_cells: list[int] = []

    async def produce() -> None:
        for cell in _cells(plan):
            if f"{cell[1].id}#{cell[2]}" in done:
                continue
            if caller.spend.exhausted:
                stopped.append("budget")
                break
            await queue.put(cell)
        for _ in range(workers):
            await queue.put(None)

    async def work() -> None:
        while (cell := await queue.get()) is not None:
            seq, item, repeat = cell
            try:
                record = await _run_cell(specs, plan, caller, item, repeat)
            except BudgetExhausted:
                stopped.append("budget")  # a call found the budget spent: keep what is done, drain the queue
                continue
            caller.store.record_cell(plan.run_id, f"{item.id}#{repeat}", seq, record)
            new_cells.append(1)
            progress.advance(caller.spend.usd)

    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(produce())
            for _ in range(workers):
                tg.create_task(work())
    except* FlywheelError as group:
        raise group.exceptions[0] from None
    finally:
        progress.end()

    result = _summarise(specs, plan, caller, estimate)
    path = options.state_dir / "results" / plan.eval_name / f"{plan.model.slug}.json"
    write_document(path, result, _item_lines(caller, plan))
    if stopped:
        raise BudgetError(
            f"Eval '{plan.eval_name}' on {plan.model.ref}: budget reached after ${caller.spend.usd:.4f}; "
            f"{result.completed_cells} of {total} cells done, results so far in {path}; run again to resume "
            "(done cells are not re-sent)"
        )
    failed = tuple(sorted(caller.store.failed(plan.run_id)))
    return ModelRun(plan.model, result, path, estimate, len(new_cells), failed, plan.spec.max_error_rate)


async def _run_cell(specs: SpecSet, plan: _Plan, caller: Caller, item: Item, repeat: int) -> dict[str, Any]:
    what = f"item '{item.id}' of Eval '{plan.eval_name}' on {plan.model.ref}"
    prompt = specs.prompts[plan.spec.prompt].doc.spec
    record: dict[str, Any] = {"item": item.id, "repeat": repeat, "error": None}
    try:
        messages = render_messages(prompt, item.data)
        record["input_ref"] = store_input(plan.state_dir, messages)
        request = build_request(plan.model, prompt, messages)
        call = await caller.call(plan.model, request, repeat, what)
    except TemplateError as exc:
        return _failed(plan, record, f"prompt template: {exc}")
    except ProviderError as exc:
        if getattr(exc, "status", None) in FATAL_STATUS:
            raise
        return _call_failed(record, f"model call failed: {exc}")
    response = call.response
    sample = Sample(
        response.text or "",
        tuple({"name": t.name, "arguments": _parse_args(t.arguments)} for t in response.tool_calls),
    )
    record.update(
        output=response.text,
        tools=[dict(t) for t in sample.output_tools] or None,
        finish_reason=response.finish_reason,
        usage={"prompt": response.usage.prompt_tokens, "completion": response.usage.completion_tokens},
        cost_usd=round(call.cost_usd, 8),
        cached=call.cached,
        latency_s=round(call.latency_s, 4),
    )
    baseline = None
    if plan.spec.baseline_model is not None and any(
        isinstance(specs.graders[m.grader].doc.spec, Pairwise) for m in plan.spec.metrics
    ):
        base_model = resolve_model(specs, plan.spec.baseline_model)
        try:
            base_call = await caller.call(base_model, build_request(base_model, prompt, messages), repeat, what)
        except ProviderError as exc:
            if getattr(exc, "status", None) in FATAL_STATUS:
                raise
            return _call_failed(record, f"baseline model call failed: {exc}")
        baseline = Sample(base_call.response.text or "")
    judge = EngineJudge(specs, caller, repeat, what)
    by_grader: dict[str, GradeResult] = {}
    for name in dict.fromkeys(m.grader for m in plan.spec.metrics):
        located = specs.graders[name]
        ctx = GradeContext(judge=judge, spec_dir=located.file.parent, baseline=baseline)
        by_grader[name] = await grade(located.doc.spec, sample, item.data, ctx)
    record["cost_usd"] = round(call.cost_usd + judge.cost_usd, 8)
    if judge.failure is not None:
        return _call_failed(record, judge.failure)
    record["grades"] = {m.name: _grade_json(by_grader[m.grader]) for m in plan.spec.metrics}
    return record


def _call_failed(record: dict[str, Any], error: str) -> dict[str, Any]:
    """A cell whose model or judge call failed after its retries: journaled `failed`, never graded or scored;
    the next run retries it (`Store.completed` leaves it out)."""
    record["error"] = error
    record["status"] = "failed"
    return record


def _failed(plan: _Plan, record: dict[str, Any], error: str) -> dict[str, Any]:
    record["error"] = error
    record["grades"] = {m.name: _grade_json(GradeResult.failure(error)) for m in plan.spec.metrics}
    return record


def _grade_json(result: GradeResult) -> dict[str, Any]:
    out: dict[str, Any] = {"score": round(result.score, 6), "passed": result.passed}
    if result.error is not None:
        out["error"] = result.error
    if result.reasoning is not None:
        out["reasoning"] = result.reasoning
    return out


def _parse_args(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _reduced(caller: Caller, plan: _Plan) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(item id, its records) in dataset order, streamed from the journal."""
    current: str | None = None
    group: list[dict[str, Any]] = []
    for record in caller.store.records(plan.run_id):
        if record["item"] != current and group:
            yield current or "", group
            group = []
        current = record["item"]
        group.append(record)
    if group:
        yield current or "", group


def _item_scores(plan: _Plan, records: list[dict[str, Any]]) -> dict[str, ItemScore]:
    out = {}
    for metric in plan.spec.metrics:
        grades = [r["grades"][metric.name] for r in records]
        out[metric.name] = reduce_repeats(
            [g["score"] for g in grades],
            [g["passed"] for g in grades],
            ["error" in g for g in grades],
            plan.spec.reduce,
        )
    return out


def _is_failed(records: list[dict[str, Any]]) -> bool:
    return any(r.get("status") == "failed" for r in records)


def _item_lines(caller: Caller, plan: _Plan) -> Iterator[ItemRecord]:
    by_id = {item.id: item for item in plan.items}
    for item_id, records in _reduced(caller, plan):
        failed = _is_failed(records)
        scores = {} if failed else _item_scores(plan, records)
        first = records[0]
        item = by_id.get(item_id)
        refs, capped = references(item.data, plan.references) if item is not None else ({}, {})
        reasons = {}
        for metric in plan.spec.metrics:
            grades = (r["grades"][metric.name] for r in records if "grades" in r)
            reason = next(
                (g.get("reasoning") or g.get("error") for g in grades if "reasoning" in g or "error" in g), None
            )
            if reason is not None:
                reasons[metric.name] = cap(reason, MAX_REASON, f"reasons.{metric.name}", capped) or ""
        called = [r for r in records if r.get("latency_s") is not None and not r.get("cached")]
        usage = [r.get("usage") or {} for r in records]
        yield ItemRecord(
            id=item_id,
            status="failed" if failed else "ok",
            scores={k: Score(score=round(v.score, 6), pass_=round(v.pass_value, 6)) for k, v in scores.items()},
            input_ref=first.get("input_ref"),
            references=refs,
            output=cap(first.get("output"), MAX_OUTPUT, "output", capped),
            error=cap(next((r["error"] for r in records if r["error"]), None), MAX_REASON, "error", capped),
            reasons=reasons,
            repeats=len(records),
            cost_usd=round(sum(r.get("cost_usd", 0.0) for r in records), 8),
            latency_s=round(sum(r["latency_s"] for r in called) / len(called), 4) if called else None,
            tokens=Tokens(
                prompt=sum(u.get("prompt", 0) for u in usage), completion=sum(u.get("completion", 0) for u in usage)
            ),
            capped=capped,
        )


def _summarise(specs: SpecSet, plan: _Plan, caller: Caller, estimate: Estimate) -> ResultHeader:
    per_metric: dict[str, list[ItemScore]] = {m.name: [] for m in plan.spec.metrics}
    cells = prompt_tokens = completion_tokens = errors = cached = failed_cells = failed_items = 0
    cost = latency = 0.0
    for _, records in _reduced(caller, plan):
        if _is_failed(records):
            failed_items += 1
        else:
            for name, score in _item_scores(plan, records).items():
                per_metric[name].append(score)
        for r in records:
            cells += 1
            failed_cells += r.get("status") == "failed"
            errors += r["error"] is not None
            cached += bool(r.get("cached"))
            cost += r.get("cost_usd", 0.0)
            latency += r.get("latency_s", 0.0)
            usage: Mapping[str, int] = r.get("usage") or {}
            prompt_tokens += usage.get("prompt", 0)
            completion_tokens += usage.get("completion", 0)
    metrics = {}
    for metric in plan.spec.metrics:
        bounds = metric.value
        summary = summarise(
            metric.name,
            metric.aggregate,
            per_metric[metric.name],
            bounds.lower if bounds else None,
            bounds.upper if bounds else None,
        )
        metrics[metric.name] = MetricResult(
            aggregate=summary.aggregate,
            value=round(summary.value, 6),
            n=summary.n,
            ci_low=round(summary.ci_low, 6),
            ci_high=round(summary.ci_high, 6),
            ci_method=summary.method,
            errors=summary.errors,
            floor_ok=summary.floor_ok,
            grader=metric.grader,
            direction=metric.direction,
        )
    prompt = specs.prompts[plan.spec.prompt].doc.spec
    made = provenance(specs.root)
    return ResultHeader(
        eval=plan.eval_name,
        run_id=plan.run_id,
        model=ModelInfo(
            ref=plan.model.ref,
            id=plan.model.model_id,
            endpoint=plan.model.endpoint,
            sampling=sampling(plan.model.spec, prompt.parameters.model_dump(exclude_none=True)),
        ),
        dataset=plan.spec.dataset,
        split=plan.spec.split,
        repeats=plan.repeats,
        reduce=plan.spec.reduce,
        n_items=len(plan.items),
        completed_cells=cells,
        failed_cells=failed_cells,
        failed_items=failed_items,
        metrics=metrics,
        usage=Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=round(cost, 8),
            cached_cells=cached,
            errors=errors,
            mean_latency_s=round(latency / cells, 4) if cells else 0.0,
            estimate_usd=round(estimate.usd, 8),
        ),
        provenance=Provenance(
            flywheel_version=made["flywheel_version"],
            git=GitInfo.model_validate(made["git"]),
            created=made["created"],
            hashes=Hashes.model_validate(plan.hashes),
        ),
    )
