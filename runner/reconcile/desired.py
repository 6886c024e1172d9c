"""The desired state, computed from the specs alone (no disk, no network): one target per (eval, model)
with the content hash of every cell it consists of."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError

from runner.engine.requests import build_request, max_output_tokens, render_messages, sampling
from runner.hashing import content_hash
from runner.models.pricing import estimate_cost, estimate_prompt_tokens
from runner.models.resolve import resolve_model
from runner.specs.hashes import grader_hash
from runner.specs.loader import SpecSet


@dataclass(frozen=True)
class Cell:
    """One unit of work: an (item, repeat) of a target, with its call and grade keys."""

    id: str
    """`item#repeat`."""
    call: str
    """The response cache key: rendered prompt, model, endpoint, sampling, repeat."""
    grade: str
    """The call key plus the hashes of the graders that score it."""
    est_usd: float
    """Worst-case cost of the call."""


@dataclass(frozen=True)
class Target:
    """One (eval, model reference) as the specs want it."""

    eval: str
    model_ref: str
    model_id: str
    endpoint: str
    hashes: dict[str, Any]
    cells: tuple[Cell, ...]

    @property
    def key(self) -> tuple[str, str]:
        return (self.eval, self.model_ref)


def desired_targets(specs: SpecSet) -> list[Target]:
    """Every (eval, model) target, sorted by eval then model reference (so spec order never matters)."""
    out = []
    for eval_name in sorted(specs.evals):
        spec = specs.evals[eval_name].doc.spec
        prompt = specs.prompts[spec.prompt].doc.spec
        items = specs.data[spec.dataset].select(spec.split)
        graders = {m.grader: grader_hash(specs, m.grader) for m in spec.metrics}
        grade_part = content_hash({"graders": graders, "metrics": [m.model_dump(mode="json") for m in spec.metrics]})
        for ref in sorted(spec.models):
            model = resolve_model(specs, ref)
            params = sampling(model.spec, prompt.parameters.model_dump(exclude_none=True))
            cells: list[Cell] = []
            for item in items:
                try:
                    request = build_request(model, prompt, render_messages(prompt, item.data))
                except TemplateError as exc:
                    call_base = content_hash({"template_error": str(exc), "item": item.hash})
                    cells.extend(Cell(f"{item.id}#{r}", call_base, call_base, 0.0) for r in range(spec.repeats))
                    continue
                est = estimate_cost(
                    estimate_prompt_tokens(request.messages), max_output_tokens(request), model.spec.pricing
                )
                for repeat in range(spec.repeats):
                    call = request.key(repeat)
                    cells.append(Cell(f"{item.id}#{repeat}", call, content_hash([call, grade_part]), est))
            hashes = {
                "prompt": content_hash(prompt.model_dump(mode="json", by_alias=True)),
                "sampling": content_hash(params),
                "dataset": specs.data[spec.dataset].hash,
                "split": spec.split,
                "repeats": spec.repeats,
                "graders": graders,
                "metrics": grade_part,
                "items": {i.id: i.hash for i in items},
            }
            out.append(Target(eval_name, ref, model.model_id, model.endpoint, hashes, tuple(cells)))
    return out
