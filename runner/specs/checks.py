"""Checks across documents: references by name, dataset files, templates against dataset fields, code.

Runs after every document validated on its own. Fills `SpecSet.data` with the loaded datasets.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from runner import formula
from runner.errors import Diagnostic
from runner.graders.text_libs import missing_library
from runner.specs.common import parse_model_ref
from runner.specs.datasets import load_dataset
from runner.specs.diagnostics import did_you_mean, snippet
from runner.specs.finetune import MetricBelow
from runner.specs.grader import (
    JsonSchemaGrader,
    LabelModel,
    MultiGrader,
    Pairwise,
    PythonGrader,
    ScoreModel,
    StringCheck,
    TextSimilarity,
    ToolCall,
)
from runner.specs.kinds import EvalDoc, FineTuneDoc, GraderDoc, ModelDoc, PromptDoc
from runner.specs.loader import MAX_SPEC_BYTES, Located, SpecSet, display_path, read_text
from runner.specs.templates import SAMPLE_FIELDS, TemplateProblem, analyse
from runner.specs.yamlpos import Path_, Pos, YamlDoc


class At(Protocol):
    def __call__(
        self, shown: str, lines: Any, ydoc: YamlDoc, path: Path_, message: str, *, at_key: bool = False
    ) -> Diagnostic: ...


def check_spec_set(specs: SpecSet, at: At) -> list[Diagnostic]:
    """Every cross-document problem in `specs`; loads datasets into `specs.data` as a side effect."""
    checker = _Checker(specs, at)
    _load_datasets(specs, at, checker.diags)
    for model in specs.models.values():
        checker.model(model)
    for grader in specs.graders.values():
        checker.grader(grader)
    for ev in specs.evals.values():
        checker.eval(ev)
    for ft in specs.finetunes.values():
        checker.finetune(ft)
    for name, prompt in specs.prompts.items():
        checker.prompt(prompt, checker.prompt_data.get(name, set()))
    for name, grader in specs.graders.items():
        for path, source, allowed in _grader_templates(grader.doc.spec, ("spec",)):
            checker.template(grader, path, source, allowed, checker.grader_data.get(name, set()))
    return checker.diags


class _Checker:
    """Reference and template checks; collects diagnostics and which datasets each prompt/grader meets."""

    def __init__(self, specs: SpecSet, at: At) -> None:
        self.specs = specs
        self.at = at
        self.diags: list[Diagnostic] = []
        self.prompt_data: dict[str, set[str]] = {}
        self.grader_data: dict[str, set[str]] = {}

    def err(self, loc: Located[Any], path: Path_, message: str) -> None:
        self.diags.append(self.at(loc.shown, loc.lines, loc.yaml, path, message))

    def ref(self, loc: Located[Any], path: Path_, kind: str, name: str, pool: dict[str, Any]) -> bool:
        """True when `name` names a valid document of `kind`; else reports it (with the closest name)."""
        if name in pool:
            return True
        if (kind, name) in self.specs.invalid or self.specs.incomplete:
            return False  # already reported where it is defined, or it may be in a file that did not parse
        known = {*pool, *(n for k, n in self.specs.invalid if k == kind)}
        hint = did_you_mean(name, known) or (f"; defined: {', '.join(sorted(known))}" if known else "")
        self.err(loc, path, f"unknown {kind} '{name}'{hint}")
        return False

    def model_ref(self, loc: Located[Any], path: Path_, value: str) -> None:
        name, alias = parse_model_ref(value)
        if self.ref(loc, path, "Model", name, self.specs.models) and alias is not None:
            aliases = self.specs.models[name].doc.spec.aliases
            if alias not in aliases:
                hint = did_you_mean(alias, aliases) or f"; add it under `aliases:` of Model '{name}'"
                self.err(loc, path, f"Model '{name}' has no alias '{alias}'{hint}")

    def split_ref(self, loc: Located[Any], path: Path_, dataset: str, split: str | None) -> None:
        loaded = self.specs.data.get(dataset)
        if split is not None and loaded is not None and split not in loaded.splits:
            hint = did_you_mean(split, loaded.splits)
            self.err(
                loc, path, f"dataset '{dataset}' has no split '{split}'{hint} (splits: {', '.join(loaded.splits)})"
            )

    def data_ref(self, loc: Located[Any], path: Path_, dataset: str, split: str | None, prompt: str) -> None:
        if self.ref(loc, (*path, "dataset"), "Dataset", dataset, self.specs.datasets):
            self.split_ref(loc, (*path, "split"), dataset, split)
        if self.ref(loc, (*path, "prompt"), "Prompt", prompt, self.specs.prompts):
            self.prompt_data.setdefault(prompt, set()).add(dataset)

    def model(self, loc: Located[ModelDoc]) -> None:
        for model_id, rel in loc.doc.spec.adapters.items():
            path = (loc.file.parent / rel).resolve()
            if not path.is_relative_to(self.specs.root) or not path.is_file():
                self.err(loc, ("spec", "adapters", model_id), f"adapter file '{rel}' not found inside the project")

    def grader(self, loc: Located[GraderDoc]) -> None:
        for path, model in _grader_models(loc.doc.spec, ("spec",)):
            self.model_ref(loc, path, model)
        self.grader_code(loc, loc.doc.spec, ("spec",))

    def grader_code(self, loc: Located[GraderDoc], spec: Any, path: Path_) -> None:
        """Python grader sources parse and define grade(); multi formulas only use their graders' keys."""
        if isinstance(spec, PythonGrader):
            self.python_source(loc, spec, path)
        elif isinstance(spec, TextSimilarity) and (missing := missing_library(spec.evaluation_metric)):
            self.err(loc, (*path, "evaluation_metric"), missing)
        elif isinstance(spec, MultiGrader):
            try:
                formula.check(spec.calculate_output, frozenset(spec.graders))
            except formula.FormulaError as exc:
                self.err(loc, (*path, "calculate_output"), str(exc))
            for key, sub in spec.graders.items():
                self.grader_code(loc, sub, (*path, "graders", key))

    def python_source(self, loc: Located[GraderDoc], spec: PythonGrader, path: Path_) -> None:
        if spec.file is not None:
            file = (loc.file.parent / spec.file).resolve()
            if not file.is_relative_to(self.specs.root) or not file.is_file():
                self.err(loc, (*path, "file"), f"python grader file '{spec.file}' not found inside the project")
                return
            source, problem = read_text(file, display_path(file), MAX_SPEC_BYTES, "a python grader file")
            if problem is not None:
                self.diags.append(problem)
                return
        else:
            source = spec.source or ""
        where: Path_ = (*path, "file" if spec.file is not None else "source")
        try:
            tree = ast.parse(source)
        except (RecursionError, MemoryError):
            self.err(loc, where, "python grader is nested too deeply to parse; simplify it")
            return
        except SyntaxError as exc:
            message = f"python grader does not parse: {exc.msg}"
            diag = self.at(loc.shown, loc.lines, loc.yaml, where, message)
            if spec.file is not None:
                lines = source.splitlines()
                at = Pos(exc.lineno or 1, exc.offset or 1)
                self.diags.append(
                    Diagnostic(display_path(file), at.line, at.col, diag.where, message, snippet(lines, at))
                )
            else:
                self.diags.append(inner_line(diag, loc, where, exc.lineno or 1))
            return
        if not any(isinstance(n, ast.FunctionDef) and n.name == "grade" for n in tree.body):
            self.err(loc, where, "python grader must define `def grade(sample, item) -> float`")

    def eval(self, loc: Located[EvalDoc]) -> None:
        spec = loc.doc.spec
        self.data_ref(loc, ("spec",), spec.dataset, spec.split, spec.prompt)
        for i, model in enumerate(spec.models):
            self.model_ref(loc, ("spec", "models", i), model)
        if spec.baseline_model is not None:
            self.model_ref(loc, ("spec", "baseline_model"), spec.baseline_model)
        for i, metric in enumerate(spec.metrics):
            path: Path_ = ("spec", "metrics", i, "grader")
            if not self.ref(loc, path, "Grader", metric.grader, self.specs.graders):
                continue
            self.grader_data.setdefault(metric.grader, set()).add(spec.dataset)
            if isinstance(self.specs.graders[metric.grader].doc.spec, Pairwise) and spec.baseline_model is None:
                self.err(loc, path, f"grader '{metric.grader}' is pairwise and needs `baseline_model:` in this Eval")

    def finetune(self, loc: Located[FineTuneDoc]) -> None:
        spec = loc.doc.spec
        self.model_ref(loc, ("spec", "base_model"), spec.base_model)
        if spec.teacher is not None:
            self.model_ref(loc, ("spec", "teacher"), spec.teacher)
        for part, data in (("training", spec.training), ("validation", spec.validation)):
            if data is None:
                continue
            self.data_ref(loc, ("spec", part), data.dataset, data.split, data.prompt)
            for tfield in ("completion", "rejected"):
                source = getattr(data, tfield)
                if source is not None:
                    self.template(loc, ("spec", part, tfield), source, {"item"}, {data.dataset})
        for i, grader in enumerate(spec.graders):
            if self.ref(loc, ("spec", "graders", i), "Grader", grader, self.specs.graders):
                self.grader_data.setdefault(grader, set()).add(spec.training.dataset)
        for i, trigger in enumerate(spec.triggers):
            if isinstance(trigger, MetricBelow):
                self.metric_trigger(loc, ("spec", "triggers", i), trigger)
        if spec.promotion is not None:
            self.promotion(loc, spec.promotion.eval, spec.base_model)

    def promotion(self, loc: Located[FineTuneDoc], eval_name: str, base_model: str) -> None:
        """The promotion Eval exists and evaluates the recipe's base Model."""
        ppath: Path_ = ("spec", "promotion", "eval")
        if self.ref(loc, ppath, "Eval", eval_name, self.specs.evals):
            base_name, _ = parse_model_ref(base_model)
            listed = {parse_model_ref(m)[0] for m in self.specs.evals[eval_name].doc.spec.models}
            if base_name not in listed:
                self.err(
                    loc,
                    ppath,
                    f"promotion Eval '{eval_name}' does not evaluate Model "
                    f"'{base_name}'; add it to that Eval's `models`",
                )

    def metric_trigger(self, loc: Located[FineTuneDoc], path: Path_, trigger: MetricBelow) -> None:
        if not self.ref(loc, (*path, "eval"), "Eval", trigger.eval, self.specs.evals):
            return
        metrics = {m.name: m for m in self.specs.evals[trigger.eval].doc.spec.metrics}
        metric = metrics.get(trigger.metric)
        if metric is None:
            self.err(
                loc,
                (*path, "metric"),
                f"Eval '{trigger.eval}' has no metric '{trigger.metric}'{did_you_mean(trigger.metric, metrics)}",
            )
        elif metric.value is None or metric.value.lower is None:
            self.err(
                loc,
                (*path, "metric"),
                f"metric '{trigger.metric}' of Eval '{trigger.eval}' has no floor; add `value: {{lower: ...}}` to it",
            )

    def prompt(self, loc: Located[PromptDoc], datasets: set[str]) -> None:
        spec = loc.doc.spec
        if spec.choices is not None and spec.response_format is not None:
            self.err(loc, ("spec", "choices"), "use either `choices` or `response_format`, not both")
        for i, message in enumerate(spec.messages):
            self.template(loc, ("spec", "messages", i, "content"), message.content, {"item"}, datasets)
        if spec.item_messages is not None:
            for dataset in sorted(datasets):
                loaded = self.specs.data.get(dataset)
                if loaded is not None and spec.item_messages not in loaded.fields:
                    hint = (
                        did_you_mean(spec.item_messages, loaded.fields)
                        or f" (fields: {', '.join(sorted(loaded.fields))})"
                    )
                    self.err(
                        loc,
                        ("spec", "item_messages"),
                        f"items of dataset '{dataset}' have no field '{spec.item_messages}'{hint}",
                    )

    def template(self, loc: Located[Any], path: Path_, source: str, allowed: set[str], datasets: set[str]) -> None:
        """Syntax, top-level names, `sample.*` attributes, and `item.*` fields against every dataset it meets."""
        try:
            use = analyse(source)
        except TemplateProblem as exc:
            self.diags.append(
                inner_line(self.at(loc.shown, loc.lines, loc.yaml, path, exc.message), loc, path, exc.line)
            )
            return
        for name in sorted(use.variables - allowed):
            names = " and ".join(f"`{n}`" for n in sorted(allowed))
            self.err(loc, path, f"template uses unknown variable '{name}'; it can use only {names}")
        for sample_field in sorted(use.fields.get("sample", frozenset()) - SAMPLE_FIELDS):
            hint = did_you_mean(sample_field, SAMPLE_FIELDS) or f" (sample has {', '.join(sorted(SAMPLE_FIELDS))})"
            self.err(loc, path, f"template uses unknown sample.{sample_field}{hint}")
        for dataset in sorted(datasets):
            loaded = self.specs.data.get(dataset)
            if loaded is None:
                continue
            declared = set(loaded.fields)
            schema = self.specs.datasets[dataset].doc.spec.item_schema or {}
            declared |= set(schema.get("properties", {}))
            for item_field in sorted(use.fields.get("item", frozenset()) - declared):
                hint = did_you_mean(item_field, declared) or f" (fields: {', '.join(sorted(declared))})"
                self.err(
                    loc,
                    path,
                    f"template uses item.{item_field} but items of dataset '{dataset}' have no "
                    f"field '{item_field}'{hint}",
                )


def inner_line(diag: Diagnostic, loc: Located[Any], path: Path_, line: int) -> Diagnostic:
    """Move `diag` to line `line` (1-based) of the multi-line string value at `path`."""
    pos = loc.yaml.pos(path)
    target = pos.line + line - (0 if pos.block else 1)
    if target == pos.line or not 1 <= target <= len(loc.lines):
        return diag
    text = loc.lines[target - 1]
    at = Pos(target, len(text) - len(text.lstrip()) + 1)
    return Diagnostic(diag.file, at.line, at.col, diag.where, diag.message, snippet(loc.lines, at))


def _load_datasets(specs: SpecSet, at: At, diags: list[Diagnostic]) -> None:
    for name, loc in specs.datasets.items():

        def spec_diag(path: Path_, message: str, loc: Located[Any] = loc) -> Diagnostic:
            return at(loc.shown, loc.lines, loc.yaml, path, message)

        loaded, problems = load_dataset(name, loc.doc.spec, loc.file.parent, specs.root, _shown, spec_diag)
        diags.extend(problems)
        if loaded is not None:
            specs.data[name] = loaded


def _shown(path: Path) -> str:
    return display_path(path)


def _grader_models(spec: Any, path: Path_) -> Iterator[tuple[Path_, str]]:
    if isinstance(spec, ScoreModel | LabelModel | Pairwise):
        yield (*path, "model"), spec.model
    if isinstance(spec, TextSimilarity) and spec.embedding_model is not None:
        yield (*path, "embedding_model"), spec.embedding_model
    if isinstance(spec, MultiGrader):
        for key, sub in spec.graders.items():
            yield from _grader_models(sub, (*path, "graders", key))


GRADER_VARS = {"item", "sample"}


def _grader_templates(spec: Any, path: Path_) -> Iterator[tuple[Path_, str, set[str]]]:
    if isinstance(spec, StringCheck | TextSimilarity):
        yield (*path, "input"), spec.input, GRADER_VARS
        yield (*path, "reference"), spec.reference, GRADER_VARS
    elif isinstance(spec, ScoreModel | LabelModel | Pairwise):
        allowed = {"item", "first", "second"} if isinstance(spec, Pairwise) else GRADER_VARS
        for i, message in enumerate(spec.input):
            yield (*path, "input", i, "content"), message.content, allowed
    elif isinstance(spec, JsonSchemaGrader):
        yield (*path, "input"), spec.input, GRADER_VARS
    elif isinstance(spec, ToolCall):
        yield (*path, "expected_tool"), spec.expected_tool, GRADER_VARS
        if isinstance(spec.expected_arguments, str):
            yield (*path, "expected_arguments"), spec.expected_arguments, GRADER_VARS
    elif isinstance(spec, MultiGrader):
        for key, sub in spec.graders.items():
            yield from _grader_templates(sub, (*path, "graders", key))
