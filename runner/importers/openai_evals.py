"""`flywheel import openai-evals`: OpenAI Evals API objects into specs. The eval's `data_source_config` gives
the item schema and its `testing_criteria` the Graders (OpenAI's grader JSON, as `flywheel grader import` reads
it); a run's `data_source` gives the Prompt (`input_messages`: a template, or an `item_reference` to a chat in
each item), the model and its sampling parameters, and the items (`file_content`), unless `--items` names a
JSONL export. Shapes follow the openai SDK's types (`EvalRetrieveResponse`, `CreateEvalCompletionsRunDataSource`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runner.errors import UsageError
from runner.graders.openai_json import GraderJsonError, from_openai
from runner.importers.common import Imported, add_ids, document, jsonl, name_of, spec_yaml

SAMPLING = {"temperature": "temperature", "top_p": "top_p", "seed": "seed", "max_completion_tokens": "max_tokens"}


def _json_file(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}:{exc.lineno}:{exc.colno}: the {what} is not JSON ({exc.msg})") from None


def _items_file(path: Path) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the items ({exc.strerror})") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{n}:{exc.colno}: not JSON ({exc.msg}); each line must be one item") from None
        item = row.get("item") if isinstance(row, dict) and isinstance(row.get("item"), dict) else row
        if not isinstance(item, dict):
            raise UsageError(f'{path}:{n}: expected a JSON object (an item, or {{"item": {{...}}}})')
        rows.append((n, item))
    return rows


def _text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping) and content.get("type") in ("input_text", "output_text"):
        return str(content.get("text", ""))
    if isinstance(content, list):
        parts = [_text(c) for c in content]
        return None if any(p is None for p in parts) else "".join(p for p in parts if p is not None)
    return None


def _prompt(data_source: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    messages = data_source.get("input_messages") or {}
    if messages.get("type") == "item_reference":
        spec["item_messages"] = str(messages.get("item_reference", "")).removeprefix("item.")
    else:
        out = []
        for i, m in enumerate(messages.get("template") or []):
            text = _text(m.get("content"))
            if text is None:
                notes.append(f"input_messages.template[{i}]: only text content is imported (images, audio); dropped")
                continue
            out.append({"role": m.get("role", "user"), "content": text})
        spec["messages"] = out
    params = dict(data_source.get("sampling_params") or {})
    sampling = {ours: params[theirs] for theirs, ours in SAMPLING.items() if params.get(theirs) is not None}
    if params.get("reasoning_effort") in ("minimal", "low", "medium", "high"):
        sampling["reasoning_effort"] = params["reasoning_effort"]
    if sampling:
        spec["parameters"] = sampling
    fmt = params.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") == "json_object":
        spec["response_format"] = {"type": "json_object"}
    elif isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
        schema = dict(fmt.get("json_schema") or {})
        spec["response_format"] = {
            "type": "json_schema",
            "json_schema": {k: schema[k] for k in ("name", "schema", "strict") if k in schema},
        }
    for key in sorted(set(params) - {*SAMPLING, "reasoning_effort", "response_format"}):
        notes.append(f"sampling_params.{key} is not carried over")
    return spec


def _graders(
    eval_name: str, criteria: list[Any], judge_of: dict[str, str], notes: list[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    docs, metrics = [], []
    names: set[str] = set()
    for i, criterion in enumerate(criteria):
        label = (
            str(criterion.get("name") or criterion.get("type") or f"criterion-{i}")
            if isinstance(criterion, dict)
            else f"criterion-{i}"
        )
        name = name_of(f"{eval_name}-{label}")
        while name in names:
            name = name_of(f"{name}-{i}")
        judge_id = criterion.get("model") if isinstance(criterion, dict) else None
        judge = None
        if isinstance(judge_id, str):
            judge = judge_of.setdefault(judge_id, name_of(judge_id))
        try:
            spec = from_openai(criterion, judge_model=judge)
        except GraderJsonError as exc:
            notes.append(f"testing_criteria[{i}] ({label}): {exc}; not carried over")
            continue
        names.add(name)
        body = spec.model_dump(mode="json", exclude_none=True, by_alias=True, exclude={"name"})
        docs.append(document("Grader", name, body, f"OpenAI testing criterion '{label}'"))
        metrics.append({"name": name_of(label), "grader": name})
    return docs, metrics


def import_openai_evals(eval_file: Path, run_file: Path | None, items_file: Path | None, model: str | None) -> Imported:
    """Import an eval object, with a run (prompt, model, items) and/or an items file."""
    obj = _json_file(eval_file, "eval object")
    if not isinstance(obj, dict) or "testing_criteria" not in obj:
        raise UsageError(
            f"{eval_file}: not an OpenAI eval object (no testing_criteria); save `client.evals.retrieve(ID)` as JSON"
        )
    run = _json_file(run_file, "run object") if run_file is not None else None
    data_source = dict(run.get("data_source") or {}) if isinstance(run, dict) else {}
    notes: list[str] = []
    eval_name = name_of(str(obj.get("name") or eval_file.stem))
    if not data_source:
        raise UsageError(f"{eval_file}: the eval alone has no prompt or model; pass --run RUN_JSON (a run of it)")
    if data_source.get("type") not in ("completions", None):
        raise UsageError(
            f"run data_source type '{data_source.get('type')}' is not importable; only `completions` runs are"
        )
    source = dict(data_source.get("source") or {})
    if items_file is not None:
        rows = _items_file(items_file)
    elif source.get("type") == "file_content":
        rows = [(n, dict(c.get("item") or {})) for n, c in enumerate(source.get("content") or [], start=1)]
    else:
        raise UsageError(
            f"the run's items are in a {source.get('type', 'missing')} source; export them and pass --items FILE.jsonl"
        )
    with_ids = add_ids(rows, lambda r: r, items_file.name if items_file else "file_content")
    notes.extend(with_ids.notes)
    if not with_ids.rows:
        raise UsageError("no items to import")
    judge_of: dict[str, str] = {}
    model_id = data_source.get("model")
    model_name = model or (judge_of.setdefault(str(model_id), name_of(str(model_id))) if model_id else None)
    if model_name is None:
        raise UsageError("the run names no model; pass --model NAME (an existing Model spec)")
    grader_docs, metrics = _graders(eval_name, list(obj.get("testing_criteria") or []), judge_of, notes)
    if not metrics:
        raise UsageError(f"{eval_file}: none of the testing criteria could be imported")
    dataset: dict[str, Any] = {"path": "items.jsonl"}
    config = dict(obj.get("data_source_config") or {})
    schema = config.get("item_schema") or config.get("schema")
    wrapped = schema.get("properties", {}).get("item") if isinstance(schema, dict) else None
    if isinstance(wrapped, dict):  # a retrieved eval's `schema` is {item: <item_schema>, sample: ...}
        schema = wrapped
    if config.get("type") == "custom" and isinstance(schema, dict):
        item_schema = json.loads(json.dumps(schema))
        if isinstance(item_schema.get("properties"), dict):
            item_schema["properties"].setdefault("id", {"type": "string"})  # the id Flywheel adds
        dataset["item_schema"] = item_schema
    elif config.get("type") not in ("custom", None):
        notes.append(
            f"data_source_config type '{config.get('type')}' (stored completions / logs) has no item schema "
            "to carry over"
        )
    model_docs = [
        document("Model", name, {"provider": "openai", "model": mid, "api_key_env": "OPENAI_API_KEY"})
        for mid, name in sorted(judge_of.items(), key=lambda kv: kv[1])
        if not (model and name == model)
    ]
    docs = [
        *model_docs,
        document("Dataset", eval_name, dataset),
        document("Prompt", eval_name, _prompt(data_source, notes)),
        *grader_docs,
        document(
            "Eval", eval_name, {"dataset": eval_name, "prompt": eval_name, "models": [model_name], "metrics": metrics}
        ),
    ]
    header = (
        f"Imported from the OpenAI Evals API: eval {obj.get('id', eval_file.name)} by `flywheel import openai-evals`."
    )
    files = {f"{eval_name}/items.jsonl": jsonl(with_ids.rows), f"{eval_name}/{eval_name}.yaml": spec_yaml(docs, header)}
    return Imported(files, notes, [eval_name])
