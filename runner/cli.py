"""The `flywheel` command: parse arguments and dispatch to runner.commands. Nothing else lives here."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from rich.console import Console

from runner import __version__
from runner.errors import ExitCode, FlywheelError, UsageError
from runner.project import default_specs
from runner.subproc import stop_on_signals

EPILOG = """exit codes: 0 ok | 1 error (invalid specs or input) | 2 changes (plan --detailed-exitcode)
| 3 regression (gate) | 4 inconclusive with on_inconclusive: fail (gate) | 5 cells failed after their retries
(run, apply) | 70 internal error | 130 interrupted
(see docs/exit-codes.md)"""


SPECS_HELP = "spec folder or file (default: the project's specs/, found from any subfolder)"


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad arguments; in Flywheel's contract 2 means 'plan has changes', so use 1."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(int(ExitCode.ERROR), f"{self.prog}: error: {message}\n")


def _cassette_flags(p: argparse.ArgumentParser) -> None:
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--record", type=Path, metavar="DIR", help="write the responses used to DIR/cassette.jsonl")
    mode.add_argument(
        "--replay",
        type=Path,
        metavar="DIR",
        help="answer every call from DIR/cassette.jsonl; no network; a missing entry is an error",
    )


def _unsafe_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--unsafe-python-graders",
        action="store_true",
        help="run python graders even where seccomp is unavailable (unconfined: only for code you trust; "
        "see docs/security.md)",
    )


def _out_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out", type=Path, metavar="DIR", help="folder to write into (default: the project's specs/); never overwrites"
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="flywheel",
        description="Declarative, GitOps-style evals for LLM applications.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"flywheel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("validate", help="check specs, datasets and templates; print every problem")
    p.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="spec files or folders (default: the project's specs/, found from any subfolder)",
    )

    p = sub.add_parser("init", help="start a project: specs/ with a runnable example, .gitignore, workflows")
    p.add_argument("dir", nargs="?", type=Path, default=Path(), metavar="DIR", help="project folder (default: .)")
    p.add_argument("--example", default="triage", metavar="NAME", help="example eval to start from: %(default)s")
    p.add_argument(
        "--provider",
        choices=("local", "openai"),
        default="local",
        help="local: the embedded model, no key (default); openai: OpenAI with OPENAI_API_KEY",
    )
    p.add_argument(
        "--action",
        default=None,
        metavar="OWNER/REPO@REF",
        help="the Flywheel GitHub Action the workflows use (default: this release's major tag)",
    )

    p = sub.add_parser("run", help="evaluate an Eval on its models (cached, budgeted, resumable)")
    p.add_argument("eval_name", metavar="EVAL", help="name of the Eval spec")
    p.add_argument("--specs", type=Path, action="append", metavar="PATH", help=SPECS_HELP)
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME",
        help="run on this Model (name or name@alias) instead of the Eval's models; repeatable",
    )
    p.add_argument("--limit", type=int, metavar="N", help="only the first N items of the split")
    p.add_argument("--repeats", type=int, metavar="K", help="samples per item (overrides the Eval)")
    p.add_argument("--no-cache", action="store_true", help="do not reuse cached responses (new ones are stored)")
    _cassette_flags(p)
    _unsafe_flag(p)
    p.add_argument("--json", action="store_true", help="print the result documents as JSON")

    p = sub.add_parser("plan", help="show what apply would run and why (pure: no calls)")
    p.add_argument("--specs", type=Path, action="append", metavar="PATH", help=SPECS_HELP)
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when there is nothing to do, 2 when there are changes, 1 on error",
    )
    p.add_argument("--out", type=Path, metavar="FILE", help="save the plan for `flywheel apply FILE`")

    p = sub.add_parser("apply", help="run what the plan says, record results and state (idempotent)")
    p.add_argument("plan_file", nargs="?", type=Path, metavar="PLAN", help="a plan saved by `plan --out`")
    p.add_argument("--specs", type=Path, action="append", metavar="PATH", help=SPECS_HELP)
    p.add_argument(
        "--lock-timeout",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another apply to finish (default: fail at once)",
    )
    _cassette_flags(p)
    _unsafe_flag(p)
    p.add_argument(
        "--skip-retrain",
        action="store_true",
        help="run the evals only; do not train the FineTune recipes whose triggers fired",
    )

    p = sub.add_parser("gate", help="decide a pull request: compare with the base ref's baselines and policy")
    p.add_argument("--base", required=True, metavar="REF", help="the base branch or commit, e.g. origin/main")
    p.add_argument(
        "--head",
        metavar="REF",
        help="gate this commit, read with git archive as data, instead of the working tree (the "
        "pull_request_target mode: nothing from it is executed; see docs/trust.md)",
    )
    p.add_argument("--specs", type=Path, action="append", metavar="PATH", help=SPECS_HELP)
    _cassette_flags(p)
    _unsafe_flag(p)
    p.add_argument("--no-cache", action="store_true", help="do not reuse cached responses (drift checks)")
    p.add_argument(
        "--fail-on-inconclusive",
        action="store_true",
        help="treat every Eval as on_inconclusive: fail (exit 4; the reports and annotations say so too)",
    )
    p.add_argument(
        "--report-dir",
        type=Path,
        metavar="DIR",
        help="where report.md, report.json, junit.xml and report.txt go (default: .flywheel/gate/)",
    )
    p.add_argument("--json", action="store_true", help="print the JSON report")
    p.add_argument(
        "--approve-input-changes",
        action="store_true",
        help="a maintainer approved this pull request's changes to the gate's inputs (datasets, graders, policy, "
        "...): use the head's versions; needs --approved-by and --approved-sha (see docs/trust.md)",
    )
    p.add_argument("--approved-by", metavar="LOGIN", help="who approved (named in the report)")
    p.add_argument(
        "--approved-sha", metavar="SHA", help="the head commit the approval was given on; any other commit is refused"
    )

    p = sub.add_parser("report", help="write a self-contained HTML report (and a CSV) of the latest results or gate")
    p.add_argument("evals", nargs="*", metavar="EVAL", help="only these Evals (default: all with results)")
    p.add_argument("--specs", type=Path, action="append", metavar="PATH", help=SPECS_HELP)
    p.add_argument("--gate", action="store_true", help="report the last `flywheel gate` (flips, verdict numbers)")
    p.add_argument(
        "--html",
        type=Path,
        metavar="PATH",
        help="where the HTML goes (default: .flywheel/report.html, or .flywheel/gate/report.html with --gate)",
    )
    p.add_argument("--csv", type=Path, metavar="PATH", help="also write one CSV row per sample and metric")
    p.add_argument("--open", action="store_true", help="open the HTML in the default browser")

    p = sub.add_parser("ci", help="GitHub glue for workflows: the PR comment and the drift issue")
    csub = p.add_subparsers(dest="ci_command", metavar="ACTION", required=True)
    c = csub.add_parser("comment", help="create or edit the PR's one Flywheel comment from a gate report")
    c.add_argument("--body-file", type=Path, required=True, metavar="FILE", help="the gate's report.md")
    c.add_argument(
        "--author",
        default="github-actions[bot]",
        metavar="LOGIN",
        help="who the token posts as; only a marker comment by this login is edited (default: github-actions[bot])",
    )
    c = csub.add_parser("issue", help="open or edit the one open drift issue")
    c.add_argument("--title", required=True, help="issue title")
    c.add_argument("--body-file", type=Path, required=True, metavar="FILE", help="the report to post")
    c.add_argument("--label", default="flywheel-drift", help="label that identifies the issue (default: %(default)s)")

    p = sub.add_parser("baseline", help="manage baselines/ (per-item scores the gate compares against)")
    bsub = p.add_subparsers(dest="baseline_command", metavar="ACTION", required=True)
    b = bsub.add_parser("update", help="write baselines/ from the latest results (run on the main branch)")
    b.add_argument("--specs", type=Path, action="append", metavar="PATH", help=SPECS_HELP)
    b.add_argument("--eval", action="append", default=[], metavar="NAME", help="only this Eval; repeatable")
    b.add_argument(
        "--allow-partial",
        action="store_true",
        help="also write runs of part of an Eval (--limit, other repeats, a model it does not list)",
    )
    b.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")

    p = sub.add_parser("grader", help="import or export OpenAI grader JSON")
    gsub = p.add_subparsers(dest="grader_command", metavar="ACTION", required=True)
    g = gsub.add_parser("import", help="print a Grader spec (YAML) for an OpenAI grader JSON file")
    g.add_argument("file", type=Path, metavar="FILE", help="OpenAI grader JSON")
    g.add_argument("--name", help="metadata.name of the Grader (default: the JSON's name, else the file name)")
    g.add_argument("--judge-model", metavar="MODEL", help="Model spec to use for score_model / label_model judges")
    g = gsub.add_parser("export", help="print the OpenAI grader JSON of a Grader spec")
    g.add_argument("name", metavar="NAME", help="the Grader's metadata.name")
    g.add_argument("--specs", type=Path, action="append", metavar="PATH", help=SPECS_HELP)

    p = sub.add_parser("import", help="turn another tool's eval suite into specs (openai-evals, oaieval, promptfoo)")
    isub = p.add_subparsers(dest="import_source", metavar="SOURCE", required=True)
    i = isub.add_parser(
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
    _out_flag(i)
    i = isub.add_parser("promptfoo", help="a promptfooconfig.yaml: prompts, providers, tests and assertions")
    i.add_argument("config", type=Path, metavar="CONFIG", help="the promptfoo config file")
    i.add_argument("--model", metavar="NAME", help="run on this existing Model spec instead of the config's providers")
    i.add_argument("--judge-model", metavar="NAME", help="Model spec judging llm-rubric (default: the first model)")
    i.add_argument("--name", metavar="NAME", help="name of the imported specs (default: the config's folder name)")
    _out_flag(i)
    i = isub.add_parser("openai-evals", help="OpenAI Evals API objects: an eval, a run and its items")
    i.add_argument(
        "eval_file", type=Path, metavar="EVAL_JSON", help="the eval object (data_source_config, testing_criteria)"
    )
    i.add_argument(
        "--run", type=Path, metavar="RUN_JSON", help="a run object: its data_source gives the prompt, model and items"
    )
    i.add_argument("--items", type=Path, metavar="FILE", help="items as JSONL (one item per line, or {item: ...} rows)")
    i.add_argument("--model", metavar="NAME", help="run on this existing Model spec instead of the run's model")
    _out_flag(i)

    p = sub.add_parser("force-unlock", help="remove the state lock held by an apply that hangs")
    p.add_argument("lock_id", metavar="ID", help="the lock id the error message printed")

    p = sub.add_parser("serve", help="run the embedded local model's OpenAI-compatible server until Ctrl-C")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--adapter", type=Path, help="a LoRA adapter (GGUF) to serve on top of the base model")

    p = sub.add_parser("schema", help="write the JSON Schemas of the spec kinds and result documents (or --check them)")
    p.add_argument("--out", type=Path, default=Path("schemas"), help="folder to write (default: schemas/)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when the schemas are out of date")
    return parser


def _dispatch(args: argparse.Namespace, out: Console, err: Console) -> int:
    if getattr(args, "unsafe_python_graders", False):
        from runner.graders.python import allow_unsafe  # noqa: PLC0415

        allow_unsafe()
    if args.command == "validate":
        from runner.commands.validate import validate  # noqa: PLC0415 - keep start-up light

        return validate(args.paths or [default_specs()], out)
    if args.command == "init":
        from runner.commands.init import init  # noqa: PLC0415
        from runner.scaffold import ACTION_REF  # noqa: PLC0415

        return init(args.dir, args.example, args.provider, args.action or ACTION_REF, out)
    if args.command == "report":
        from runner.commands.report import report  # noqa: PLC0415

        return report(args.specs or [default_specs()], args.evals, args.gate, args.html, args.csv, args.open, out)
    if args.command == "schema":
        from runner.commands.schema import schema  # noqa: PLC0415

        return schema(args.out, args.check, out)
    if args.command == "run":
        from runner.commands.run import RunArgs, run  # noqa: PLC0415

        for value, flag in ((args.limit, "--limit"), (args.repeats, "--repeats")):
            if value is not None and value < 1:
                raise UsageError(f"{flag} must be at least 1")
        run_args = RunArgs(
            eval_name=args.eval_name,
            specs=tuple(args.specs or [default_specs()]),
            models=tuple(args.model),
            limit=args.limit,
            repeats=args.repeats,
            use_cache=not args.no_cache,
            record=args.record,
            replay=args.replay,
            as_json=args.json,
        )
        return run(run_args, out, err)
    if args.command == "plan":
        from runner.commands.plan import plan  # noqa: PLC0415

        return plan(args.specs or [default_specs()], args.json, args.detailed_exitcode, args.out, out)
    if args.command == "apply":
        from runner.commands.apply import apply  # noqa: PLC0415

        return apply(
            args.specs or [default_specs()],
            plan_file=args.plan_file,
            lock_timeout=args.lock_timeout,
            replay=args.replay,
            out=out,
            err=err,
            record=args.record,
            skip_retrain=args.skip_retrain,
        )
    if args.command == "gate":
        from runner.commands.gate import GateArgs, gate  # noqa: PLC0415

        gate_args = GateArgs(
            base=args.base,
            specs=tuple(args.specs or [default_specs()]),
            replay=args.replay,
            record=args.record,
            use_cache=not args.no_cache,
            report_dir=args.report_dir,
            as_json=args.json,
            fail_on_inconclusive=args.fail_on_inconclusive,
            head=args.head,
            approve_input_changes=args.approve_input_changes,
            approved_by=args.approved_by,
            approved_sha=args.approved_sha,
        )
        return gate(gate_args, out, err)
    if args.command == "ci":
        from runner.commands.ci import ci_comment, ci_issue  # noqa: PLC0415

        if args.ci_command == "comment":
            return ci_comment(args.body_file, out, err, args.author)
        return ci_issue(args.title, args.body_file, args.label, out)
    if args.command == "baseline":
        from runner.commands.baseline import baseline_update  # noqa: PLC0415

        return baseline_update(args.specs or [default_specs()], args.eval, out, args.allow_partial, args.dry_run)
    if args.command == "grader":
        from runner.commands.grader import grader_export, grader_import  # noqa: PLC0415

        if args.grader_command == "import":
            return grader_import(args.file, args.name, args.judge_model, out)
        return grader_export(args.specs or [default_specs()], args.name, out)
    if args.command == "import":
        return _import(args, out)
    if args.command == "force-unlock":
        from runner.commands.unlock import force_unlock_command  # noqa: PLC0415

        return force_unlock_command(args.lock_id, out)
    if args.command == "serve":
        from runner.commands.serve import serve  # noqa: PLC0415

        return serve(args.port, args.adapter, out)
    raise AssertionError(f"unhandled command {args.command}")  # pragma: no cover - argparse enforces choices


def _import(args: argparse.Namespace, out: Console) -> int:
    from runner.commands.import_ import default_out, report  # noqa: PLC0415

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


def _crash_log(exc: BaseException) -> Path:
    folder = Path(tempfile.gettempdir()) / "flywheel-logs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"crash-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S%fZ')}.log"
    path.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
    return path


PIPED_WIDTH = 160


def main(
    argv: Sequence[str] | None = None, run: Callable[[argparse.Namespace, Console, Console], int] = _dispatch
) -> int:
    """Entry point of the console script; returns the exit code (see runner.errors.ExitCode)."""
    args = _parser().parse_args(argv)
    out = Console(soft_wrap=True, markup=False, emoji=False, highlight=False)
    err = Console(stderr=True, soft_wrap=True, markup=False, emoji=False, highlight=False)
    for console in (out, err):
        if not console.is_terminal and "COLUMNS" not in os.environ:
            console.width = PIPED_WIDTH  # CI logs and pipes: tables are not cut to 80 columns
    restore = stop_on_signals()  # SIGTERM / SIGHUP unwind like Ctrl-C: servers and locks are released
    try:
        return int(run(args, out, err))
    except FlywheelError as exc:
        err.print(exc.render(), markup=False)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        err.print("flywheel: interrupted", markup=False)
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:
        log = _crash_log(exc)
        err.print(
            f"flywheel: internal error: {type(exc).__name__}: {exc}\nthe traceback is in {log}; please report it",
            markup=False,
        )
        return int(ExitCode.INTERNAL)
    finally:
        restore()


def entry() -> None:
    """Console-script wrapper."""
    sys.exit(main())
