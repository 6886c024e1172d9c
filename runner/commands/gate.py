"""`flywheel gate --base REF`: decide a pull request against the base ref's baselines and policy."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console

from runner.commands.run import _Bar
from runner.engine.calls import caller_session
from runner.errors import ExitCode, FlywheelError, SpecError, UsageError
from runner.fsutil import atomic_write_text
from runner.gate import report as fmt
from runner.gate.basetree import base_paths, materialise, resolve_ref
from runner.gate.gate import GateReport, run_gate
from runner.report.build import build
from runner.report.collect import gate_sources
from runner.report.html import render
from runner.specs.loader import SpecSet, load_specs


@dataclass(frozen=True)
class GateArgs:
    """Arguments of `flywheel gate`."""

    base: str
    specs: tuple[Path, ...] = (Path("specs"),)
    replay: Path | None = None
    record: Path | None = None
    use_cache: bool = True
    report_dir: Path | None = None
    as_json: bool = False
    fail_on_inconclusive: bool = False
    """Exit 4 on an INCONCLUSIVE verdict whatever the Evals' `on_inconclusive` policy says."""


def _base_specs(head: SpecSet, sha: str, ref: str, spec_paths: Sequence[Path]) -> tuple[SpecSet | None, Path]:
    rels = [str(p.resolve().relative_to(head.root)) for p in spec_paths]
    tree = materialise(head.root, sha, base_paths(rels))
    present = [tree / r for r in rels if (tree / r).exists()]
    if not present:
        return None, tree
    try:
        return load_specs(present, root=tree), tree
    except SpecError as exc:
        raise UsageError(
            f"the specs on the base ref {ref} are invalid; the gate cannot read its policy:\n{exc.render()}"
        ) from None


def exit_code(report: GateReport) -> int:
    """3 on a regression, 4 when inconclusive and the policy says fail, else 0."""
    if report.verdict == "FAIL":
        return ExitCode.REGRESSION
    if report.fails_on_inconclusive:
        return ExitCode.INCONCLUSIVE
    return ExitCode.OK


def gate(args: GateArgs, out: Console, err: Console) -> int:
    """Run the gate, write every report form, print the terminal one (fenced in GitHub Actions)."""
    head = load_specs(args.specs)
    sha = resolve_ref(head.root, args.base)
    base, tree = _base_specs(head, sha, args.base, args.specs)
    state_dir = head.root / ".flywheel"
    try:
        if base is None:
            report = GateReport(args.base, sha, (), ("the base ref has no specs: nothing to gate yet",))
        else:
            report = asyncio.run(_run(head, base, args, sha, state_dir, err))
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    if args.fail_on_inconclusive:
        # The policy itself becomes `fail`, so the reports (annotations, JUnit) say what the exit code does.
        report = replace(report, evals=tuple(replace(e, on_inconclusive="fail") for e in report.evals))
    folder = args.report_dir or state_dir / "gate"
    folder.mkdir(parents=True, exist_ok=True)
    markdown = fmt.markdown(report, link=_report_link(folder, head.root))
    atomic_write_text(folder / "report.md", markdown)
    atomic_write_text(folder / "report.json", fmt.json_text(report))
    atomic_write_text(folder / "junit.xml", fmt.junit(report))
    try:
        html = render(build(gate_sources(head.root, state_dir, fmt.as_json(report)), "Flywheel gate report"))
        atomic_write_text(folder / "report.html", html)
    except FlywheelError as exc:  # the verdict stands without its HTML view
        err.print(f"warning: report.html not written: {exc}", markup=False, highlight=False)
    text = fmt.text(report)
    atomic_write_text(folder / "report.txt", text)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(markdown)
    if args.as_json:
        out.print(fmt.json_text(report), markup=False, highlight=False, end="")
    elif os.environ.get("GITHUB_ACTIONS") == "true":
        out.print(fmt.fenced(text), markup=False, highlight=False, end="")
        for line in fmt.workflow_annotations(report):
            out.print(line, markup=False, highlight=False)
    else:
        out.print(text, markup=False, highlight=False, end="")
    return exit_code(report)


def _report_link(folder: Path, root: Path) -> str:
    """Where a reader finds report.html: the run's artifacts on GitHub (the action uploads the report folder),
    else the file on this machine. Built from the runner's own variables, never from the pull request."""
    server, repo, run_id = (os.environ.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if server.startswith("https://") and re.fullmatch(r"[\w.-]+/[\w.-]+", repo) and run_id.isdigit():
        return f"`report.html` in the [artifacts of this run]({server}/{repo}/actions/runs/{run_id}#artifacts)"
    try:
        shown = folder.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        shown = str(folder)
    return f"`{shown}/report.html` (open it in a browser)"


async def _run(head: SpecSet, base: SpecSet, args: GateArgs, sha: str, state_dir: Path, err: Console) -> GateReport:
    async with caller_session(state_dir, replay=args.replay, record=args.record, use_cache=args.use_cache) as caller:
        return await run_gate(head, base, args.base, sha, caller, state_dir, _Bar(err))
