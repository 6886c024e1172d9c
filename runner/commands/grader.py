"""`flywheel grader import|export`: move graders between Flywheel specs and OpenAI grader JSON."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import yaml
from rich.console import Console

from runner.commands.options import add_specs, specs_of
from runner.errors import Diagnostic, ExitCode, SpecError, UsageError
from runner.graders.openai_json import GraderJsonError, from_openai, to_openai
from runner.models.resolve import resolve_model
from runner.specs.loader import load_specs


def grader_import(file: Path, name: str | None, judge_model: str | None, out: Console) -> int:
    """Print a `kind: Grader` document for the OpenAI grader JSON in `file`."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{file}: cannot read: {exc.strerror}") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError([Diagnostic(str(file), exc.lineno, exc.colno, "grader", f"not JSON: {exc.msg}")]) from None
    try:
        spec = from_openai(obj, judge_model=judge_model)
    except GraderJsonError as exc:
        fix = "; pass --judge-model NAME (a Model spec) to replace OpenAI model ids" if "model" in str(exc) else ""
        raise SpecError([Diagnostic(str(file), 1, 1, "grader", f"{exc}{fix}")]) from None
    grader_name = name or (obj.get("name") if isinstance(obj.get("name"), str) else None) or file.stem
    grader_name = "-".join(grader_name.lower().replace("_", "-").split())
    body = spec.model_dump(mode="json", exclude_none=True, by_alias=True, exclude={"name"})
    doc = {"apiVersion": "flywheel/v1", "kind": "Grader", "metadata": {"name": grader_name}, "spec": body}
    out.print(
        yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100),
        end="",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return ExitCode.OK


def grader_export(spec_paths: Sequence[Path], name: str, out: Console) -> int:
    """Print the OpenAI grader JSON of the Grader spec `name`."""
    specs = load_specs(spec_paths)
    if name not in specs.graders:
        raise UsageError(f"no Grader named '{name}'; Graders: {', '.join(sorted(specs.graders))}")
    located = specs.graders[name]
    try:
        obj = to_openai(
            located.doc.spec,
            name,
            model_id=lambda ref: resolve_model(specs, ref).model_id,
            spec_dir=located.file.parent,
        )
    except GraderJsonError as exc:
        raise UsageError(str(exc)) from None
    out.print(json.dumps(obj, indent=2, ensure_ascii=False), markup=False, highlight=False, soft_wrap=True)
    return ExitCode.OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="grader_command", metavar="ACTION", required=True)
    g = actions.add_parser("import", help="print a Grader spec (YAML) for an OpenAI grader JSON file")
    g.add_argument("file", type=Path, metavar="FILE", help="OpenAI grader JSON")
    g.add_argument("--name", help="metadata.name of the Grader (default: the JSON's name, else the file name)")
    g.add_argument("--judge-model", metavar="MODEL", help="Model spec to use for score_model / label_model judges")
    g = actions.add_parser("export", help="print the OpenAI grader JSON of a Grader spec")
    g.add_argument("name", metavar="NAME", help="the Grader's metadata.name")
    add_specs(g)


def handle(args: argparse.Namespace, out: Console, err: Console) -> int:
    if args.grader_command == "import":
        return grader_import(args.file, args.name, args.judge_model, out)
    return grader_export(specs_of(args), args.name, out)
