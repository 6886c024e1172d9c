"""Import and export of OpenAI grader JSON (the `testing_criteria` / RFT `grader` objects).

Import accepts what OpenAI's API accepts: message contents as strings or `input_text` parts, `sampling_params`
with `max_completions_tokens`, `multi.graders` as an object (or a list of named graders). Judge models in OpenAI
JSON are model ids, while a Flywheel grader names a `Model` spec: `judge_model` replaces them on import.
Export resolves Model spec names to their model ids and inlines python `file:` graders. Flywheel's own grader types
(`json_schema`, `tool_call`, `pairwise`) and cosine similarity's `embedding_model` have no OpenAI equivalent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from runner.graders.python import grader_source
from runner.specs.grader import (
    GraderSpec,
    JudgeMessage,
    LabelModel,
    MultiGrader,
    PythonGrader,
    ScoreModel,
    StringCheck,
    TextSimilarity,
)

FLYWHEEL_ONLY = ("json_schema", "tool_call", "pairwise")
_ADAPTER: TypeAdapter[GraderSpec] = TypeAdapter(GraderSpec)


class GraderJsonError(ValueError):
    """OpenAI grader JSON Flywheel cannot import, or a grader with no OpenAI equivalent."""


def _content(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and value.get("type") in ("input_text", "output_text", "text"):
        return str(value.get("text", ""))
    if isinstance(value, list):
        return "".join(_content(v, where) for v in value)
    raise GraderJsonError(f"{where}: only text message content can be imported (got {value!r:.80})")


def _normalise(obj: Any, judge_model: str | None, where: str) -> Any:
    if not isinstance(obj, Mapping):
        raise GraderJsonError(f"{where}: expected a grader object")
    out = dict(obj)
    kind = out.get("type")
    if kind in ("score_model", "label_model"):
        out["input"] = [
            {**m, "content": _content(m.get("content"), f"{where}.input[{i}]")} if isinstance(m, Mapping) else m
            for i, m in enumerate(out.get("input") or [])
        ]
        if judge_model is not None:
            out["model"] = judge_model
        params = out.get("sampling_params")
        if isinstance(params, Mapping):
            params = {k: v for k, v in params.items() if v is not None}
            if "max_completions_tokens" in params:
                params["max_tokens"] = params.pop("max_completions_tokens")
            out["sampling_params"] = params
    elif kind == "multi":
        graders = out.get("graders")
        if isinstance(graders, list):
            graders = {str(g.get("name") or f"g{i}"): g for i, g in enumerate(graders) if isinstance(g, Mapping)}
        elif isinstance(graders, Mapping) and "type" in graders:
            graders = {str(graders.get("name") or "g0"): graders}
        if isinstance(graders, Mapping):
            out["graders"] = {k: _normalise(g, judge_model, f"{where}.graders.{k}") for k, g in graders.items()}
    return out


def from_openai(obj: Any, *, judge_model: str | None = None) -> GraderSpec:
    """A Grader spec from OpenAI grader JSON; raises GraderJsonError with pydantic's messages."""
    kind = obj.get("type") if isinstance(obj, Mapping) else None
    if kind in FLYWHEEL_ONLY:
        raise GraderJsonError(f"'{kind}' is a Flywheel grader type, not an OpenAI one")
    try:
        return _ADAPTER.validate_python(_normalise(obj, judge_model, "grader"))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'grader'}: {e['msg']}" for e in exc.errors())
        raise GraderJsonError(problems) from None


def to_openai(spec: GraderSpec, name: str, *, model_id: Callable[[str], str], spec_dir: Path) -> dict[str, Any]:
    """OpenAI grader JSON for `spec`; `model_id` maps a Model spec reference to the model id OpenAI knows."""
    if spec.type in FLYWHEEL_ONLY:
        raise GraderJsonError(f"grader '{name}' is of type {spec.type}, which OpenAI's graders do not have")
    out: dict[str, Any] = {"type": spec.type, "name": name}
    if isinstance(spec, StringCheck):
        out |= {"input": spec.input, "reference": spec.reference, "operation": spec.operation}
    elif isinstance(spec, TextSimilarity):
        out |= _text_similarity(spec, name)
    elif isinstance(spec, ScoreModel):
        out |= {"model": model_id(spec.model), "input": [_message(m) for m in spec.input]} | _score_model(spec)
    elif isinstance(spec, LabelModel):
        out |= {"model": model_id(spec.model), "input": [_message(m) for m in spec.input]}
        out |= {"labels": list(spec.labels), "passing_labels": list(spec.passing_labels)}
    elif isinstance(spec, PythonGrader):
        out["source"] = grader_source(spec, spec_dir)
        out |= _present(image_tag=spec.image_tag, pass_threshold=spec.pass_threshold)
    elif isinstance(spec, MultiGrader):
        out["graders"] = {k: to_openai(g, k, model_id=model_id, spec_dir=spec_dir) for k, g in spec.graders.items()}
        out["calculate_output"] = spec.calculate_output
    return out


def _present(**fields: Any) -> dict[str, Any]:
    """The fields that are set (OpenAI's grader JSON leaves optional fields out rather than null)."""
    return {k: v for k, v in fields.items() if v is not None}


def _text_similarity(spec: TextSimilarity, name: str) -> dict[str, Any]:
    if spec.evaluation_metric == "cosine":
        raise GraderJsonError(
            f"grader '{name}': cosine similarity uses a Flywheel embedding_model; OpenAI's "
            "text_similarity picks its own embeddings, so export would change the scores"
        )
    out = {"input": spec.input, "reference": spec.reference, "evaluation_metric": spec.evaluation_metric}
    return out | _present(pass_threshold=spec.pass_threshold)


def _score_model(spec: ScoreModel) -> dict[str, Any]:
    out: dict[str, Any] = {"range": list(spec.range), **_present(pass_threshold=spec.pass_threshold)}
    if spec.sampling_params is not None:
        params = spec.sampling_params.model_dump(exclude_none=True, exclude={"stop"})
        if "max_tokens" in params:
            params["max_completions_tokens"] = params.pop("max_tokens")
        out["sampling_params"] = params
    return out


def _message(m: JudgeMessage) -> dict[str, Any]:
    return {"type": "message", "role": m.role, "content": m.content}
