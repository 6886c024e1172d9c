"""What one (Eval, model) run consists of: its identity and its cells, each with its call key and cell key.

`plan_model_run` and `cells` are pure (no disk, no network): the engine runs them, the reconcile plan compares
them with the applied state, and the gate compares run ids with baselines, all from this one definition
(the field lists are in `runner.identity`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError

from runner.engine.requests import build_request, render_messages, sampling
from runner.hashing import content_hash
from runner.identity import RunIdentity, call_key, cell_id, cell_key, grading_hash, items_hash, template_error_key
from runner.models.resolve import ResolvedModel, resolve_model
from runner.models.types import ChatRequest
from runner.specs.datasets import Item
from runner.specs.evals import EvalSpec
from runner.specs.hashes import grader_hash
from runner.specs.loader import SpecSet


@dataclass(frozen=True)
class RunPlan:
    """Everything that identifies a run of `eval_name` on one model."""

    eval_name: str
    spec: EvalSpec
    items: tuple[Item, ...]
    repeats: int
    model: ResolvedModel
    identity: RunIdentity
    graders: Mapping[str, str]
    """Grader name -> content hash."""

    @property
    def run_id(self) -> str:
        return self.identity.run_id

    @property
    def hashes(self) -> dict[str, Any]:
        """The hashes results and baselines carry as provenance."""
        return {
            "identity_version": self.identity.fields()["version"],
            "prompt": self.identity.prompt,
            "dataset": self.identity.dataset,
            "graders": dict(self.graders),
            "grading": self.identity.grading,
            "sampling": content_hash(dict(self.identity.sampling)),
        }


@dataclass(frozen=True)
class CellPlan:
    """One (item, repeat) of a run."""

    seq: int
    """Position of the item in the dataset (records are reported in this order)."""
    item: Item
    repeat: int
    call: str
    """The response cache key (or the template error's key when the prompt does not render)."""
    key: str
    """The journal key (`runner.identity.cell_key`)."""
    request: ChatRequest | None
    """None when the prompt does not render for this item."""
    error: str | None
    """The template error, when the prompt does not render."""

    @property
    def id(self) -> str:
        return cell_id(self.item.id, self.repeat)


def plan_model_run(
    specs: SpecSet, eval_name: str, ref: str, limit: int | None = None, repeats: int | None = None
) -> RunPlan:
    """The identity of running `eval_name` on model `ref` (optionally on the first `limit` items of its split,
    with another number of repeats)."""
    spec = specs.evals[eval_name].doc.spec
    model = resolve_model(specs, ref)
    items = specs.data[spec.dataset].select(spec.split)
    if limit is not None:
        items = items[:limit]
    prompt = specs.prompts[spec.prompt].doc.spec
    graders = {m.grader: grader_hash(specs, m.grader) for m in spec.metrics}
    n_repeats = repeats or spec.repeats
    identity = RunIdentity(
        eval=eval_name,
        endpoint=model.endpoint,
        model_id=model.model_id,
        sampling=sampling(model.spec, prompt.parameters.model_dump(exclude_none=True)),
        prompt=content_hash(prompt.model_dump(mode="json", by_alias=True)),
        dataset=items_hash((i.id, i.hash) for i in items),
        split=spec.split,
        repeats=n_repeats,
        reduce=spec.reduce,
        grading=grading_hash(graders, [m.model_dump(mode="json") for m in spec.metrics]),
    )
    return RunPlan(eval_name, spec, items, n_repeats, model, identity, graders)


def item_cells(specs: SpecSet, plan: RunPlan, seq: int, item: Item) -> list[CellPlan]:
    """The cells of one item: its prompt rendered once, one cell per repeat."""
    prompt = specs.prompts[plan.spec.prompt].doc.spec
    try:
        request: ChatRequest | None = build_request(plan.model, prompt, render_messages(prompt, item.data))
        error = None
    except TemplateError as exc:
        request, error = None, f"prompt template: {exc}"
    out = []
    for repeat in range(plan.repeats):
        if request is None:
            call = template_error_key(str(error), item.hash)
        else:
            call = call_key(request.endpoint, request.body(), repeat)
        out.append(CellPlan(seq, item, repeat, call, cell_key(call, item.hash, plan.identity.grading), request, error))
    return out


def cells(specs: SpecSet, plan: RunPlan) -> Iterator[CellPlan]:
    """Every cell of the run in dataset order, rendered lazily (a 100,000-item run holds one item at a time)."""
    for seq, item in enumerate(plan.items):
        yield from item_cells(specs, plan, seq, item)
