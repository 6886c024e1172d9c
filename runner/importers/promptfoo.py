"""`flywheel import promptfoo`: a promptfooconfig.yaml (prompts, providers, tests with vars, assertions) into
Dataset, Prompt, Model, Grader and Eval specs.

One Eval per prompt scores the deterministic assertions (equals, contains, icontains, regex, is-json,
contains-json, ...; all of a test's must pass, as in promptfoo) with a python grader ported from promptfoo's
code. `llm-rubric` and `similar` assertions need a judge or embeddings, so they become Evals of their own, over
the tests that carry them. `javascript` (and other script) assertions cannot run here and are reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from runner.errors import UsageError
from runner.importers.common import Imported, add_ids, document, jsonl, name_of, spec_yaml
from runner.importers.promptfoo_graders import ASSERTIONS

DETERMINISTIC = frozenset(
    {
        "equals",
        "contains",
        "icontains",
        "contains-any",
        "icontains-any",
        "contains-all",
        "icontains-all",
        "starts-with",
        "regex",
        "is-json",
        "contains-json",
    }
)
RESERVED = frozenset({"id", "asserts", "rubric", "reference", "description"})
RUBRIC_JUDGE = (
    "You are grading output according to a user-specified rubric. If the statement in the rubric is true, the "
    "output passes the test. Give a score from 0 (fails the rubric) to 1 (fully meets it)."
)
EMBEDDINGS = "text-embedding-3-large"
"""promptfoo's default embedding model for `similar`."""
VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)")


def _load(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not valid YAML/JSON ({exc})") from None


def _jinja(text: str) -> str:
    """promptfoo's Nunjucks `{{ var }}` as Flywheel's `{{ item.var }}`."""
    text = re.sub(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", r"{{ item.\1 }}", text)
    return VAR.sub(lambda m: m.group(0) if m.group(1) == "item" else "{{ item." + m.group(1), text)


def _prompts(raw: Any, base: Path, notes: list[str]) -> list[list[dict[str, str]]]:
    entries = raw if isinstance(raw, list) else [raw]
    prompts: list[list[dict[str, str]]] = []
    for entry in entries:
        value = entry.get("raw") or entry.get("id") if isinstance(entry, dict) else entry
        if not isinstance(value, str):
            notes.append(f"prompt {entry!r} is not text or a file:// reference; skipped")
            continue
        if not value.startswith("file://"):
            prompts.append([{"role": "user", "content": _jinja(value)}])
            continue
        path = base / value.removeprefix("file://")
        if path.suffix in (".js", ".ts", ".py", ".mjs", ".cjs"):
            notes.append(f"prompt {value}: prompt functions cannot be carried over; skipped")
            continue
        if path.suffix in (".json", ".yaml", ".yml"):
            chat = _load(path, "prompt file")
            if isinstance(chat, list) and all(isinstance(m, dict) and "role" in m and "content" in m for m in chat):
                prompts.append([{"role": str(m["role"]), "content": _jinja(str(m["content"]))} for m in chat])
            else:
                notes.append(f"prompt {value}: not a chat message list; skipped")
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{path}: cannot read the prompt file ({exc.strerror})") from None
        for part in re.split(r"^---$", text, flags=re.MULTILINE):
            if part.strip():
                prompts.append([{"role": "user", "content": _jinja(part.strip())}])
    return prompts


def _models(raw: Any, notes: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    docs: list[dict[str, Any]] = []
    names: list[str] = []
    for entry in raw if isinstance(raw, list) else [raw]:
        pid = entry.get("id") if isinstance(entry, dict) else entry
        config = entry.get("config", {}) if isinstance(entry, dict) else {}
        if not isinstance(pid, str) or not pid.startswith("openai:"):
            notes.append(f"provider {pid!r}: only openai: providers map to a Model spec; skipped")
            continue
        model = pid.split(":")[-1]
        params = {k: config[k] for k in ("temperature", "max_tokens", "top_p", "seed") if k in config}
        spec: dict[str, Any] = {"provider": "openai", "model": model, "api_key_env": "OPENAI_API_KEY"}
        if params:
            spec["parameters"] = params
        name = name_of(model)
        if name not in names:
            names.append(name)
            docs.append(document("Model", name, spec, f"promptfoo provider {pid}"))
    return docs, names


def _tests(config: Mapping[str, Any], base: Path) -> list[dict[str, Any]]:
    raw = config.get("tests", [])
    if isinstance(raw, str) and raw.startswith("file://"):
        path = base / raw.removeprefix("file://")
        if path.suffix not in (".yaml", ".yml", ".json"):
            raise UsageError(f"tests {raw}: only YAML or JSON test files can be imported (CSV: export it as YAML)")
        raw = _load(path, "tests file")
    if not isinstance(raw, list):
        raise UsageError("`tests` must be a list of test cases (or a file:// YAML list)")
    return [t for t in raw if isinstance(t, dict)]


def _resolve_ref(assertion: Any, config: Mapping[str, Any]) -> Any:
    if isinstance(assertion, dict) and "$ref" in assertion:
        ref = str(assertion["$ref"])
        if ref.startswith("#/assertionTemplates/"):
            return dict(config.get("assertionTemplates", {})).get(ref.rsplit("/", 1)[1], assertion)
    return assertion


def _render(value: Any, variables: Mapping[str, Any]) -> Any:
    """promptfoo renders assertion values with the test's vars."""
    if not isinstance(value, str):
        return value
    return re.sub(
        r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", lambda m: str(variables.get(m.group(1), m.group(0))), value
    )


def _var(value: Any, base: Path) -> Any:
    if isinstance(value, str) and value.startswith("file://"):
        path = base / value.removeprefix("file://")
        if path.is_file() and path.suffix in (".txt", ".md", ".json", ".yaml", ".yml", ""):
            return path.read_text(encoding="utf-8")
    return value


def import_promptfoo(config_path: Path, model: str | None, judge: str | None, name: str | None) -> Imported:
    """Import `config_path`; evaluate on `model` instead of the config's providers when given."""
    config = _load(config_path, "promptfoo config")
    if not isinstance(config, dict):
        raise UsageError(f"{config_path}: a promptfoo config is a mapping with prompts, providers and tests")
    base = config_path.parent
    cfg = name_of(name or (base.name if config_path.stem == "promptfooconfig" else config_path.stem))
    notes: list[str] = []
    prompts = _prompts(config.get("prompts", []), base, notes)
    if not prompts:
        raise UsageError(f"{config_path}: no prompt could be imported")
    model_docs, model_names = ([], [model]) if model else _models(config.get("providers", []), notes)
    if not model_names:
        raise UsageError(f"{config_path}: no provider maps to a Model spec; pass --model NAME (an existing Model)")
    default = config.get("defaultTest") or {}
    rows: list[tuple[int, dict[str, Any]]] = []
    unsupported: dict[str, int] = {}
    for n, test in enumerate(_tests(config, base), start=1):
        variables = {k: _var(v, base) for k, v in {**default.get("vars", {}), **test.get("vars", {})}.items()}
        clash = sorted(RESERVED & set(variables))
        if clash:
            notes.append(f"test {n}: vars named {', '.join(clash)} clash with Flywheel's item fields; test skipped")
            continue
        row: dict[str, Any] = {**variables, "asserts": [], "rubrics": [], "similar": []}
        if test.get("description"):
            row["description"] = str(test["description"])
        for assertion in [*default.get("assert", []), *test.get("assert", [])]:
            a = _resolve_ref(assertion, config)
            kind = str(a.get("type", "")) if isinstance(a, dict) else ""
            value = _render(a.get("value"), variables) if isinstance(a, dict) else None
            if kind.removeprefix("not-") in DETERMINISTIC:
                row["asserts"].append({"type": kind, **({"value": value} if value is not None else {})})
            elif kind == "llm-rubric":
                row["rubrics"].append({"rubric": str(value), "threshold": a.get("threshold")})
            elif kind == "similar":
                row["similar"].append({"reference": str(value), "threshold": a.get("threshold", 0.75)})
            else:
                unsupported[kind or repr(a)] = unsupported.get(kind or repr(a), 0) + 1
        rows.append((n, row))
    for kind, count in sorted(unsupported.items()):
        why = "runs JavaScript, which Flywheel does not" if kind == "javascript" else "has no Flywheel equivalent yet"
        notes.append(
            f"{count} `{kind}` assertion{'s' if count > 1 else ''} not carried over: {why}; "
            "write a python Grader instead"
        )
    if any(a["type"].removeprefix("not-") == "contains-json" for _, r in rows for a in r["asserts"]):
        notes.append(
            "contains-json: promptfoo repairs malformed JSON (jsonrepair) before parsing; "
            "Flywheel finds only JSON that parses as it is"
        )
    with_ids = add_ids(
        rows,
        lambda r: {k: v for k, v in r.items() if k not in ("asserts", "rubrics", "similar", "description")},
        config_path.name,
        "test",
    )
    notes.extend(with_ids.notes)
    return _build(cfg, config_path, prompts, model_docs, model_names, judge, with_ids.rows, notes)


def _build(
    cfg: str,
    source: Path,
    prompts: list[list[dict[str, str]]],
    model_docs: list[dict[str, Any]],
    models: list[str],
    judge: str | None,
    tests: list[dict[str, Any]],
    notes: list[str],
) -> Imported:
    files: dict[str, str] = {}
    docs: list[dict[str, Any]] = list(model_docs)
    evals: list[str] = []
    plain = [{k: v for k, v in t.items() if k not in ("rubrics", "similar")} for t in tests if t["asserts"]]
    rubric_rows = [
        {
            **{k: v for k, v in t.items() if k not in ("asserts", "rubrics", "similar")},
            "id": f"{t['id']}-{k}" if len(t["rubrics"]) > 1 else t["id"],
            "rubric": r["rubric"],
        }
        for t in tests
        for k, r in enumerate(t["rubrics"], start=1)
    ]
    similar_rows = [
        {
            **{k: v for k, v in t.items() if k not in ("asserts", "rubrics", "similar")},
            "id": f"{t['id']}-{k}" if len(t["similar"]) > 1 else t["id"],
            "reference": s["reference"],
        }
        for t in tests
        for k, s in enumerate(t["similar"], start=1)
    ]
    families: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = []
    if plain:
        files[f"{cfg}/tests.jsonl"] = jsonl(plain)
        docs.append(document("Dataset", cfg, {"path": "tests.jsonl"}))
        files[f"{cfg}/promptfoo_asserts.py"] = ASSERTIONS
        docs.append(document("Grader", f"{cfg}-asserts", {"type": "python", "file": "promptfoo_asserts.py"}))
        families.append(("", plain, {"dataset": cfg, "metrics": [{"name": "pass", "grader": f"{cfg}-asserts"}]}))
    if rubric_rows:
        thresholds = {r.get("threshold") for t in tests for r in t["rubrics"]} - {None}
        threshold = float(min(thresholds)) if thresholds else 0.5
        if len(thresholds) > 1:
            notes.append(
                f"llm-rubric thresholds {sorted(thresholds)} differ between tests; the grader uses {threshold}"
            )
        files[f"{cfg}/llm-rubric.jsonl"] = jsonl(rubric_rows)
        docs.append(document("Dataset", f"{cfg}-llm-rubric", {"path": "llm-rubric.jsonl"}))
        docs.append(
            document(
                "Grader",
                f"{cfg}-llm-rubric",
                {
                    "type": "score_model",
                    "model": judge or models[0],
                    "range": [0, 1],
                    "pass_threshold": threshold,
                    "input": [
                        {"role": "system", "content": RUBRIC_JUDGE},
                        {
                            "role": "user",
                            "content": "<Output>\n{{ sample.output_text }}\n</Output>\n"
                            "<Rubric>\n{{ item.rubric }}\n</Rubric>",
                        },
                    ],
                },
            )
        )
        notes.append(
            "llm-rubric: the judge answers {reasoning, score} by structured output with its own prompt, "
            "not promptfoo's grading prompt"
        )
        families.append(
            (
                "-llm-rubric",
                rubric_rows,
                {"dataset": f"{cfg}-llm-rubric", "metrics": [{"name": "rubric", "grader": f"{cfg}-llm-rubric"}]},
            )
        )
    if similar_rows:
        thresholds = {float(s["threshold"]) for t in tests for s in t["similar"]}
        threshold = min(thresholds)
        if len(thresholds) > 1:
            notes.append(f"similar thresholds {sorted(thresholds)} differ between tests; the grader uses {threshold}")
        files[f"{cfg}/similar.jsonl"] = jsonl(similar_rows)
        docs.append(
            document(
                "Model",
                f"{cfg}-embeddings",
                {"provider": "openai", "model": EMBEDDINGS, "api_key_env": "OPENAI_API_KEY"},
            )
        )
        docs.append(document("Dataset", f"{cfg}-similar", {"path": "similar.jsonl"}))
        docs.append(
            document(
                "Grader",
                f"{cfg}-similar",
                {
                    "type": "text_similarity",
                    "input": "{{ sample.output_text }}",
                    "reference": "{{ item.reference }}",
                    "evaluation_metric": "cosine",
                    "embedding_model": f"{cfg}-embeddings",
                    "pass_threshold": threshold,
                },
            )
        )
        families.append(
            (
                "-similar",
                similar_rows,
                {"dataset": f"{cfg}-similar", "metrics": [{"name": "similar", "grader": f"{cfg}-similar"}]},
            )
        )
    for i, messages in enumerate(prompts, start=1):
        prompt_name = cfg if len(prompts) == 1 else f"{cfg}-p{i}"
        docs.append(document("Prompt", prompt_name, {"messages": messages}))
        for suffix, _, spec in families:
            eval_name = f"{prompt_name}{suffix}"
            docs.append(document("Eval", eval_name, {**spec, "prompt": prompt_name, "models": models}))
            evals.append(eval_name)
    if not evals:
        raise UsageError(f"{source}: no test has an assertion Flywheel can score")
    header = f"Imported from promptfoo: {source.name} by `flywheel import promptfoo`."
    files[f"{cfg}/{cfg}.yaml"] = spec_yaml(docs, header)
    return Imported({k: files[k] for k in sorted(files)}, notes, evals)
