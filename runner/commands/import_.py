"""`flywheel import SOURCE ...`: turn another tool's eval suite into specs; print the files written and what
could not be carried over."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from runner.commands.options import add_out_dir
from runner.errors import ExitCode
from runner.importers.common import Imported, write_files
from runner.project import SPECS_DIR, find_project


def default_out() -> Path:
    """The project's specs/ (found from any subfolder), else ./specs."""
    project = find_project()
    return (project if project is not None else Path()) / SPECS_DIR


def report(imported: Imported, out: Path, console: Console) -> int:
    """Write the files under `out`, then print each with its status and the notes."""
    statuses = write_files(out, imported.files)
    for rel, status in statuses:
        console.print(f"{status} {out / rel}", markup=False, highlight=False)
    evals = len(imported.evals)
    console.print(
        f"imported {evals} eval{'s' if evals != 1 else ''}"
        + (f" ({', '.join(imported.evals)})" if evals else "")
        + f"; {len(imported.notes)} note{'s' if len(imported.notes) != 1 else ''} on what was not carried over"
        + (":" if imported.notes else ""),
        markup=False,
        highlight=False,
    )
    for note in imported.notes:
        console.print(f"  - {note}", markup=False, highlight=False)
    if evals:
        console.print("next: flywheel validate", markup=False, highlight=False)
    return ExitCode.OK if evals else ExitCode.ERROR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sources = parser.add_subparsers(dest="import_source", metavar="SOURCE", required=True)
    i = sources.add_parser(
        "oaieval", help="openai/evals registry evals (Match, Includes, FuzzyMatch, JsonMatch, ModelBasedClassify)"
    )
    i.add_argument("evals", nargs="+", metavar="EVAL", help="registry eval name (e.g. test-match) or full id")
    i.add_argument(
        "--registry", type=Path, metavar="DIR", help="evals/registry folder (default: the installed evals package's)"
    )
    i.add_argument(
        "--model", default="app-model", metavar="NAME", help="Model spec the evals run on (default: %(default)s)"
    )
    i.add_argument(
        "--judge-model", metavar="NAME", help="Model spec judging ModelBasedClassify evals (default: --model)"
    )
    add_out_dir(i)
    i = sources.add_parser("promptfoo", help="a promptfooconfig.yaml: prompts, providers, tests and assertions")
    i.add_argument("config", type=Path, metavar="CONFIG", help="the promptfoo config file")
    i.add_argument("--model", metavar="NAME", help="run on this existing Model spec instead of the config's providers")
    i.add_argument("--judge-model", metavar="NAME", help="Model spec judging llm-rubric (default: the first model)")
    i.add_argument("--name", metavar="NAME", help="name of the imported specs (default: the config's folder name)")
    add_out_dir(i)
    i = sources.add_parser("openai-evals", help="OpenAI Evals API objects: an eval, a run and its items")
    i.add_argument(
        "eval_file", type=Path, metavar="EVAL_JSON", help="the eval object (data_source_config, testing_criteria)"
    )
    i.add_argument(
        "--run", type=Path, metavar="RUN_JSON", help="a run object: its data_source gives the prompt, model and items"
    )
    i.add_argument("--items", type=Path, metavar="FILE", help="items as JSONL (one item per line, or {item: ...} rows)")
    i.add_argument("--model", metavar="NAME", help="run on this existing Model spec instead of the run's model")
    add_out_dir(i)


def handle(args: argparse.Namespace, out: Console, err: Console) -> int:
    # Each importer is imported only for its source (evals' and promptfoo's matchers are large).
    if args.import_source == "oaieval":
        from runner.importers.oaieval import import_oaieval  # noqa: PLC0415

        imported = import_oaieval(args.evals, args.registry, args.model, args.judge_model)
    elif args.import_source == "promptfoo":
        from runner.importers.promptfoo import import_promptfoo  # noqa: PLC0415

        imported = import_promptfoo(args.config, args.model, args.judge_model, args.name)
    else:
        from runner.importers.openai_evals import import_openai_evals  # noqa: PLC0415

        imported = import_openai_evals(args.eval_file, args.run, args.items, args.model)
    return report(imported, args.out or default_out(), out)
