"""`flywheel import oaieval`: openai/evals registry entries (Match, Includes, FuzzyMatch, JsonMatch,
ModelBasedClassify) and their samples into Dataset, Prompt, Grader and Eval specs.

Samples get ids (a hash of their input, so re-imports keep them), duplicates are dropped and reported, chat
inputs stay message lists (the Prompt sends them with `item_messages`), and the matchers become python graders
ported from evals' own code (`oaieval_graders.py`), so an imported eval scores each output as evals did.
"""

from __future__ import annotations

import importlib.util
import json
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from runner.errors import UsageError
from runner.importers import oaieval_graders as graders
from runner.importers.common import Imported, add_ids, document, jsonl, name_of, spec_yaml

MATCHERS = {
    "evals.elsuite.basic.match:Match": "match",
    "evals.elsuite.basic.includes:Includes": "includes",
    "evals.elsuite.basic.fuzzy_match:FuzzyMatch": "fuzzy_match",
    "evals.elsuite.basic.json_match:JsonMatch": "json_match",
    "evals.elsuite.modelgraded.classify:ModelBasedClassify": "classify",
}
MAX_TOKENS = {"fuzzy_match": 100, "json_match": 512, "classify": 1024}
"""evals' own max_tokens per class (Match and Includes send none)."""
GREEDY = frozenset({"match", "fuzzy_match", "json_match"})
"""Classes that sample at temperature 0."""


def installed_registry() -> Path | None:
    """The registry folder of the installed `evals` package, found without importing it (it needs many
    dependencies Flywheel does not)."""
    spec = importlib.util.find_spec("evals")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "registry"
    return folder if folder.is_dir() else None


def _load_registry(registry: Path) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    folder = registry / "evals"
    if not folder.is_dir():
        raise UsageError(f"{registry}: not an openai/evals registry (no evals/ folder); pass --registry DIR")
    for path in sorted(folder.glob("*.y*ml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError):
            continue  # another eval's broken file must not stop this import
        if isinstance(data, dict):
            entries.update({str(k): v for k, v in data.items() if isinstance(v, dict)})
    return entries


def _resolve(entries: Mapping[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    entry = entries.get(name)
    if entry is None:
        raise UsageError(f"no eval '{name}' in the registry; names are the keys of registry/evals/*.yaml")
    if "id" in entry and "class" not in entry:
        target = entries.get(str(entry["id"]))
        if target is None:
            raise UsageError(f"eval '{name}' points at '{entry['id']}', which the registry does not define")
        return str(entry["id"]), target
    return name, entry


def _chat(value: Any) -> list[dict[str, Any]]:
    """A sample's input as a chat: evals sends a text prompt as one system message."""
    return [{"role": "system", "content": value}] if isinstance(value, str) else value


def _text(chat: list[dict[str, Any]]) -> str:
    """evals.prompt.base.chat_prompt_to_text_prompt: what a model-graded prompt's {input} holds."""
    if len(chat) == 1:
        return str(chat[0]["content"])
    prefixes = {"system": "", "example_user": "User: ", "example_assistant": "Assistant: "}
    text = ""
    for msg in chat:
        role = msg["name"] if "name" in msg else msg["role"]
        text += f"{prefixes.get(role, role.capitalize() + ': ')}{msg['content']}\n"
    return (text + "Assistant:").lstrip()


def _samples(registry: Path, rel: str, notes: list[str]) -> list[tuple[int, dict[str, Any]]]:
    path = registry / "data" / rel
    if not path.is_file():
        raise UsageError(f"samples file {path} not found")
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                notes.append(f"{rel}:{n}: invalid JSON ({exc.msg}); skipped")
                continue
            if not isinstance(row, dict) or "input" not in row:
                notes.append(f"{rel}:{n}: not a sample with an 'input'; skipped")
                continue
            rows.append((n, {**row, "input": _chat(row["input"])}))
    return rows


def _literal(text: str) -> str:
    """`text` as Jinja source that renders to itself."""
    return "".join({"{": "{{ '{' }}", "}": "{{ '}' }}"}.get(c, c) for c in text)


def _jinja(template: str, completion_key: str, literals: Mapping[str, str]) -> str:
    """A Python format template (evals' modelgraded prompts) as Jinja: `{completion}` -> the output,
    `{input}` -> the item's chat as text, other fields -> the item's, spec args inlined."""
    out = []
    for literal, field, _, _ in string.Formatter().parse(template):
        out.append(_literal(literal))
        if field is None:
            continue
        if field == completion_key:
            out.append("{{ sample.output_text }}")
        elif field in literals:
            out.append(_literal(literals[field]))
        elif field == "input":
            out.append("{{ item.input_text }}")
        else:
            out.append(f"{{{{ item.{field} }}}}")
    return "".join(out)


def _classify_grader(
    registry: Path, args: Mapping[str, Any], judge: str, notes: list[str], where: str
) -> dict[str, Any] | None:
    spec_name = str(args.get("modelgraded_spec", ""))
    path = registry / "modelgraded" / f"{spec_name}.yaml"
    try:
        mg = yaml.safe_load(path.read_text(encoding="utf-8"))[spec_name]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        notes.append(f"{where}: modelgraded spec '{spec_name}' not found in {path.parent}; eval skipped")
        return None
    choices = mg.get("choice_strings")
    if isinstance(choices, str) and choices.startswith("from_n"):
        notes.append(f"{where}: choice_strings '{choices}' compares several models' answers; eval skipped")
        return None
    labels = list(choices) if isinstance(choices, str) else [str(c) for c in choices]
    raw_scores = mg.get("choice_scores")
    scores: dict[str, float] = {}
    if raw_scores == "from_strings":
        scores = {c: float(c) for c in labels}
    elif isinstance(raw_scores, dict):
        scores = {str(k): float(v) for k, v in raw_scores.items()}
    if scores:
        best = max(scores.values())
        passing = [c for c in labels if scores.get(c) == best]
        if set(scores.values()) - {0.0, 1.0}:
            notes.append(
                f"{where}: evals averages the choice scores {scores}; Flywheel's label_model passes only on "
                f"the best ({', '.join(passing)}), so the mean score is not carried over"
            )
    else:
        passing = labels
        notes.append(
            f"{where}: modelgraded spec '{spec_name}' has no choice_scores (evals only counts the choices); every "
            "label passes: set `passing_labels` to the answers you accept"
        )
    completion_key = next(iter(dict(mg.get("input_outputs") or {"input": "completion"}).values()))
    literals: dict[str, str] = {}
    for key, value in dict(args.get("modelgraded_spec_args") or {}).items():
        if isinstance(value, dict) and len(value) == 1:
            literals[str(key)] = str(next(iter(value.values())))  # {criteria: {correctness: "..."}}
        elif isinstance(value, str | int | float):
            literals[str(key)] = str(value)
        else:
            notes.append(f"{where}: modelgraded_spec_args.{key} holds several values; not carried over")
    prompt = mg["prompt"]
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    notes.append(
        f"{where}: the judge answers {{reasoning, label}} by structured output instead of evals' "
        f"'{args.get('eval_type') or mg.get('eval_type') or 'classify'}' answer prompt"
    )
    return {
        "type": "label_model",
        "model": judge,
        "input": [
            {"role": m["role"], "content": _jinja(str(m["content"]), completion_key, literals)} for m in messages
        ],
        "labels": labels,
        "passing_labels": passing,
    }


def import_oaieval(names: list[str], registry: Path | None, model: str, judge: str | None) -> Imported:
    """Import the registry evals `names` (base names or full ids) for the Model spec `model`."""
    folder = registry or installed_registry()
    if folder is None:
        raise UsageError(
            "no openai/evals registry: pass --registry DIR (the evals/registry folder of a checkout), or install "
            "it with: pip install --no-deps evals"
        )
    entries = _load_registry(folder)
    files: dict[str, str] = {}
    notes: list[str] = []
    written: list[str] = []
    for name in names:
        full_id, entry = _resolve(entries, name)
        cls = str(entry.get("class", ""))
        kind = MATCHERS.get(cls)
        if kind is None:
            notes.append(
                f"{name}: class {cls or '(none)'} is not supported "
                "(Match, Includes, FuzzyMatch, JsonMatch, ModelBasedClassify); skipped"
            )
            continue
        args = dict(entry.get("args") or {})
        eval_name = name_of(name.split(".")[0] if name == full_id else name)
        samples_rel = args.get("samples_jsonl")
        if not isinstance(samples_rel, str):
            notes.append(f"{name}: samples_jsonl {samples_rel!r} is not one file; skipped")
            continue
        for unsupported in sorted(
            set(args) & {"num_few_shot", "few_shot_jsonl", "multicomp_n", "metaeval", "match_fn"}
        ):
            notes.append(f"{name}: argument `{unsupported}: {args[unsupported]}` is not carried over")
        rows = _samples(folder, samples_rel, notes)
        if kind == "classify":
            rows = [(n, {**r, "input_text": _text(r["input"])}) for n, r in rows]
            grader = _classify_grader(folder, args, judge or model, notes, name)
            if grader is None:
                continue
            grader_docs = [document("Grader", f"{eval_name}-judge", grader)]
            metrics = [{"name": "score", "grader": f"{eval_name}-judge"}]
        else:
            missing = [n for n, r in rows if "ideal" not in r]
            if missing:
                notes.append(
                    f"{samples_rel}: {len(missing)} samples without 'ideal' skipped (first at line {missing[0]})"
                )
                rows = [(n, r) for n, r in rows if "ideal" in r]
            grader_docs, metrics = _matcher_graders(kind, eval_name, args, files)
        with_ids = add_ids(rows, lambda r: r["input"], f"{samples_rel}")
        notes.extend(f"{name}: {n}" for n in with_ids.notes)
        if not with_ids.rows:
            notes.append(f"{name}: no usable samples; skipped")
            continue
        parameters: dict[str, Any] = {}
        if kind in GREEDY:
            parameters["temperature"] = 0
        if kind in MAX_TOKENS:
            parameters["max_tokens"] = int(args.get("max_tokens", MAX_TOKENS[kind]))
        prompt: dict[str, Any] = {"item_messages": "input"}
        if parameters:
            prompt["parameters"] = parameters
        docs = [
            document("Dataset", eval_name, {"path": "samples.jsonl"}),
            document("Prompt", eval_name, prompt),
            *grader_docs,
            document(
                "Eval",
                eval_name,
                {"dataset": eval_name, "prompt": eval_name, "models": [model], "metrics": metrics},
                str(entries.get(name, {}).get("description") or "") or None,
            ),
        ]
        header = f"Imported from openai/evals: {full_id} ({cls}, {samples_rel}) by `flywheel import oaieval`."
        files[f"{eval_name}/samples.jsonl"] = jsonl(with_ids.rows)
        files[f"{eval_name}/{eval_name}.yaml"] = spec_yaml(docs, header)
        written.append(eval_name)
    return Imported({k: files[k] for k in sorted(files)}, notes, written)


def _matcher_graders(
    kind: str, eval_name: str, args: Mapping[str, Any], files: dict[str, str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    sources = {
        "match": [("accuracy", graders.MATCH)],
        "includes": [("accuracy", graders.INCLUDES.replace("{ignore_case}", str(bool(args.get("ignore_case")))))],
        "fuzzy_match": [("accuracy", graders.FUZZY_MATCH), ("f1_score", graders.F1)],
        "json_match": [("accuracy", graders.JSON_MATCH)],
    }[kind]
    docs = []
    metrics: list[dict[str, Any]] = []
    for metric, source in sources:
        grader_name = f"{eval_name}-{kind.replace('_', '-')}" + (
            "" if metric == "accuracy" else f"-{metric.replace('_', '-')}"
        )
        file = f"{kind}.py" if metric == "accuracy" else f"{metric}.py"
        files[f"{eval_name}/{file}"] = source
        docs.append(document("Grader", grader_name, {"type": "python", "file": file}))
        metrics.append(
            {"name": metric, "grader": grader_name, **({} if metric == "accuracy" else {"aggregate": "mean"})}
        )
    return docs, metrics
