"""Worst-case cost of a run before any call: every uncached call uses its whole prompt and output budget."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from jinja2 import TemplateError

from runner.engine.calls import Caller
from runner.engine.requests import DEFAULT_MAX_TOKENS, build_request, max_output_tokens, render_messages
from runner.graders.base import Sample
from runner.models.pricing import estimate_cost, estimate_prompt_tokens
from runner.models.resolve import ResolvedModel, resolve_model
from runner.specs.datasets import Item
from runner.specs.evals import EvalSpec
from runner.specs.grader import JudgeMessage, LabelModel, MultiGrader, Pairwise, ScoreModel
from runner.specs.loader import SpecSet
from runner.specs.templates import render


@dataclass(frozen=True)
class Estimate:
    """Upper bounds for the calls a run still has to make."""

    usd: float
    tokens: int
    calls: int


def _judges(spec: object) -> list[ScoreModel | LabelModel | Pairwise]:
    if isinstance(spec, ScoreModel | LabelModel | Pairwise):
        return [spec]
    if isinstance(spec, MultiGrader):
        return [j for sub in spec.graders.values() for j in _judges(sub)]
    return []


def _judge_prompt_tokens(messages: Sequence[JudgeMessage], item: Item, output_tokens: int) -> int:
    placeholder = Sample("x " * output_tokens).context()
    rendered = []
    for m in messages:
        try:
            text = render(m.content, item=item.data, sample=placeholder, first=placeholder, second=placeholder)
        except TemplateError:
            text = m.content + " x" * output_tokens
        rendered.append({"role": m.role, "content": text})
    return estimate_prompt_tokens(rendered)


def is_free(specs: SpecSet, spec: EvalSpec, model: ResolvedModel) -> bool:
    """Whether the model and every judge of `spec` are unpriced, so only a token budget needs an estimate."""
    models = [
        model,
        *(resolve_model(specs, j.model) for m in spec.metrics for j in _judges(specs.graders[m.grader].doc.spec)),
    ]
    return all(m.spec.pricing.input_per_1m == 0 and m.spec.pricing.output_per_1m == 0 for m in models)


def estimate_run(
    specs: SpecSet,
    spec: EvalSpec,
    model: ResolvedModel,
    items: Sequence[Item],
    repeats: int,
    caller: Caller,
    done: Collection[str],
) -> Estimate:
    """Dollars, tokens and calls still to pay for: cells already journaled or cached cost nothing."""
    prompt = specs.prompts[spec.prompt].doc.spec
    extra = json.dumps(prompt.to_api()) if prompt.to_api() else ""
    judges = [
        (j, resolve_model(specs, j.model)) for m in spec.metrics for j in _judges(specs.graders[m.grader].doc.spec)
    ]
    usd = 0.0
    tokens = calls = 0
    for item in items:
        try:
            messages = render_messages(prompt, item.data)
        except TemplateError:
            continue  # the cell will be recorded as an error without a call
        request = build_request(model, prompt, messages)
        out_tokens = max_output_tokens(request)
        p_tokens = estimate_prompt_tokens(messages, extra)
        for repeat in range(repeats):
            if f"{item.id}#{repeat}" in done:
                continue
            if caller.is_cached(request, repeat):
                continue  # its judges ran with it, so they are cached too
            usd += estimate_cost(p_tokens, out_tokens, model.spec.pricing)
            tokens += p_tokens + out_tokens
            calls += 1
            for judge, judge_model in judges:
                n = 2 if isinstance(judge, Pairwise) else 1
                j_params = getattr(judge, "sampling_params", None)
                j_out = (j_params.max_tokens if j_params else None) or (
                    judge_model.spec.parameters.max_tokens or DEFAULT_MAX_TOKENS
                )
                j_prompt = _judge_prompt_tokens(judge.input, item, out_tokens)
                usd += n * estimate_cost(j_prompt, j_out, judge_model.spec.pricing)
                tokens += n * (j_prompt + j_out)
                calls += n
    return Estimate(usd, tokens, calls)
