"""`flywheel gate --base REF`: decide a pull request against the base ref's baselines and policy.

The gate reads no state from the working tree (a pull request controls it): its response store is a fresh
temporary folder, and `--replay DIR` inside the repository replays the cassette as it is on the base ref.
`--head REF` gates a commit read with `git archive` instead of the working tree (the `pull_request_target` mode:
the checkout, the workflow and Flywheel are the base's; the pull request is only read as data)."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console

from runner.baselines.ledger import FOLDER
from runner.commands.options import add_cassette, add_specs, add_unsafe_python, allow_unsafe_if_asked, specs_of
from runner.commands.progress import ProgressBar
from runner.engine.calls import caller_session
from runner.engine.cassette import FILE as CASSETTE
from runner.errors import ExitCode, FlywheelError, SpecError, UsageError
from runner.fsutil import atomic_write_text
from runner.gate import report as fmt
from runner.gate.basetree import (
    base_paths,
    changed_paths,
    execution_paths,
    head_commits,
    materialise,
    resolve_ref,
    tracked,
)
from runner.gate.gate import GateReport, run_gate
from runner.gate.inputs import Approval, GateInputs, assemble, key_refusal
from runner.models.resolve import ResolvedModel
from runner.report.build import build
from runner.report.collect import gate_sources
from runner.report.html import render
from runner.specs.loader import SpecSet, find_root, load_specs

STATE = ".flywheel"


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
    head: str | None = None
    """Gate this commit, read as data, instead of the working tree (the pull_request_target mode)."""
    approve_input_changes: bool = False
    """A maintainer approved this head commit's changes to the gate's inputs (needs approved_by/approved_sha)."""
    approved_by: str | None = None
    approved_sha: str | None = None


def _rel(root: Path, path: Path) -> str | None:
    """`path` relative to the repository root, or None when it lies outside."""
    resolved = path.resolve()
    return str(resolved.relative_to(root)) if resolved.is_relative_to(root) else None


def _base_specs(
    repo: Path, rels: Sequence[str], sha: str, ref: str, extra: Sequence[str]
) -> tuple[SpecSet | None, Path]:
    tree = materialise(repo, sha, [*base_paths(rels), *extra])
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


def _approval(args: GateArgs, heads: set[str]) -> tuple[Approval | None, list[str]]:
    """The approval the arguments carry, if it was given on the commit under test (else a note why not)."""
    if not args.approve_input_changes:
        return None, []
    if not args.approved_by or not args.approved_sha:
        raise UsageError(
            "--approve-input-changes needs --approved-by LOGIN and --approved-sha SHA (the head commit approved)"
        )
    if args.approved_sha not in heads:
        shown = min(heads, key=len)[:7] if len(heads) == 1 else "/".join(sorted(h[:7] for h in heads))
        return None, [
            f"The approval by @{args.approved_by} was given on {args.approved_sha[:12]}, not on the commit under "
            f"test ({shown}); a later push needs a new approval"
        ]
    return Approval(args.approved_by, args.approved_sha), []


def _tree_changes(root: Path, sha: str, head_sha: str | None) -> list[str]:
    changes = [f"{p} edited" for p in changed_paths(root, sha, [FOLDER], head_sha)]
    if head_sha is not None:
        return changes  # the workflow, the action and the runner come from the base checkout
    run = changed_paths(root, sha, execution_paths(root))
    return changes + [f"{p} edited (it decides how the gate runs)" for p in run]


def _state_notes(root: Path, head_sha: str | None) -> list[str]:
    forged = tracked(root, STATE, head_sha)
    if not forged:
        return []
    shown = ", ".join(forged[:5]) + (f" and {len(forged) - 5} more" if len(forged) > 5 else "")
    return [
        f"Ignored {len(forged)} file(s) under {STATE}/ tracked in this pull request ({shown}): the gate never reads "
        "a response store, journal or results from the pull request's tree"
    ]


def _replay_source(args: GateArgs, head: _Head, tree: Path) -> tuple[Path | None, list[str]]:
    """The cassette folder to replay: inside the repository, its version on the base ref, never the head's."""
    if args.replay is None:
        return None, []
    ref = args.base
    rel = _rel(head.repo, args.replay)
    if rel is None:
        return args.replay, []  # outside the checkout: a workflow's own input, not the pull request's
    notes = []
    head_file, base_file = head.specs.root / rel / CASSETTE, tree / rel / CASSETTE
    head_bytes = head_file.read_bytes() if head_file.is_file() else None
    if head_bytes is not None and head_bytes != (base_file.read_bytes() if base_file.is_file() else None):
        notes.append(
            f"Ignored this pull request's {rel}/{CASSETTE}: the gate replays the cassette recorded on {ref} "
            "(a cassette from the pull request's tree could be forged)"
        )
    if not base_file.is_file():
        base_file.parent.mkdir(parents=True, exist_ok=True)
        base_file.write_text("")  # nothing recorded on the base ref: every cell is "not evaluated"
    return tree / rel, notes


@dataclass(frozen=True)
class _Head:
    """The side under test: the working tree, or (with --head) a commit extracted to a temporary folder."""

    specs: SpecSet
    repo: Path
    sha: str | None
    """The commit read as data; None for the working tree."""
    tree: Path | None = None


def _in_repo(shown: str, head: _Head) -> str:
    """A spec path inside the extracted head commit, as a path relative to the repository."""
    assert head.tree is not None
    path = Path(shown)
    return str(path.relative_to(head.tree)) if path.is_absolute() and path.is_relative_to(head.tree) else shown


def _load_head(args: GateArgs) -> _Head:
    if args.head is None:
        specs = load_specs(args.specs)
        return _Head(specs, specs.root, None)
    repo = find_root(args.specs[0])
    sha = resolve_ref(repo, args.head, "--head")
    rels = [r for r in (_rel(repo, p) for p in args.specs) if r is not None]
    replay = _rel(repo, args.replay) if args.replay else None
    tree = materialise(repo, sha, [*rels, *([replay] if replay else [])])
    present = [tree / r for r in rels if (tree / r).exists()]
    if not present:
        shutil.rmtree(tree, ignore_errors=True)
        raise UsageError(f"--head {args.head}: no specs at {', '.join(rels)} in that commit")
    try:
        return _Head(load_specs(present, root=tree), repo, sha, tree)
    except BaseException:
        shutil.rmtree(tree, ignore_errors=True)
        raise


def gate(args: GateArgs, out: Console, err: Console) -> int:
    """Run the gate, write every report form, print the terminal one (fenced in GitHub Actions)."""
    head = _load_head(args)
    root = head.repo
    sha = resolve_ref(root, args.base)
    replay_rel = _rel(root, args.replay) if args.replay else None
    rels = [r for r in (_rel(root, p) for p in args.specs) if r is not None]
    base, tree = _base_specs(root, rels, sha, args.base, [replay_rel] if replay_rel else [])
    state_dir = Path(tempfile.mkdtemp(prefix="flywheel-gate-"))
    try:
        approval, notes = _approval(args, {head.sha} if head.sha else head_commits(root))
        notes += _state_notes(root, head.sha)
        replay, replay_notes = _replay_source(args, head, tree)
        notes += replay_notes
        if base is None:
            notes.append("the base ref has no specs: nothing to gate yet")
            report = GateReport(args.base, sha, (), (), approval, notes=tuple(notes))
        else:
            inputs = assemble(
                head.specs, base, _tree_changes(root, sha, head.sha), approval, head_code=head.sha is None
            )
            report = asyncio.run(_run(inputs, base, args, replay, sha, state_dir, notes, err, root))
    finally:
        for folder in (tree, head.tree):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
    try:
        _export(state_dir, root)
        return _write_reports(args, report, head, root, state_dir, out, err)
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)


def _export(state_dir: Path, root: Path) -> None:
    """Copy this gate's results to `.flywheel/gate/` for `flywheel report --gate`: written, never read back by
    a gate (each gate starts from a fresh store)."""
    for side in ("head", "base"):
        dest = root / STATE / "gate" / side
        shutil.rmtree(dest, ignore_errors=True)
        if (state_dir / "gate" / side).is_dir():
            shutil.copytree(state_dir / "gate" / side, dest)


def _write_reports(
    args: GateArgs, report: GateReport, head: _Head, root: Path, state_dir: Path, out: Console, err: Console
) -> int:
    """Write every report form (report.html from the gate's own fresh state), print the terminal one."""
    if head.tree is not None:
        # Annotations point at the files as the repository names them, not at the temporary copy.
        report = replace(report, evals=tuple(replace(e, spec_file=_in_repo(e.spec_file, head)) for e in report.evals))
    if args.fail_on_inconclusive:
        # The policy itself becomes `fail`, so the reports (annotations, JUnit) say what the exit code does.
        report = replace(report, evals=tuple(replace(e, on_inconclusive="fail") for e in report.evals))
    folder = args.report_dir or root / STATE / "gate"
    folder.mkdir(parents=True, exist_ok=True)
    markdown = fmt.markdown(report, link=_report_link(folder, root))
    atomic_write_text(folder / "report.md", markdown)
    atomic_write_text(folder / "report.json", fmt.json_text(report))
    atomic_write_text(folder / "junit.xml", fmt.junit(report))
    try:
        html = render(build(gate_sources(root, state_dir, fmt.as_json(report)), "Flywheel gate report"))
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


async def _run(
    inputs: GateInputs,
    base: SpecSet,
    args: GateArgs,
    replay: Path | None,
    sha: str,
    state_dir: Path,
    notes: Sequence[str],
    err: Console,
    repo: Path,
) -> GateReport:
    def guard(model: ResolvedModel) -> str | None:
        return key_refusal(model.name, model.spec, base)

    async with caller_session(
        state_dir, replay=replay, record=args.record, use_cache=args.use_cache, key_guard=guard
    ) as caller:
        return await run_gate(inputs, base, args.base, sha, caller, state_dir, ProgressBar(err), notes, repo)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", required=True, metavar="REF", help="the base branch or commit, e.g. origin/main")
    parser.add_argument(
        "--head",
        metavar="REF",
        help="gate this commit, read with git archive as data, instead of the working tree (the "
        "pull_request_target mode: nothing from it is executed; see docs/trust.md)",
    )
    add_specs(parser)
    add_cassette(parser)
    add_unsafe_python(parser)
    parser.add_argument("--no-cache", action="store_true", help="do not reuse cached responses (drift checks)")
    parser.add_argument(
        "--fail-on-inconclusive",
        action="store_true",
        help="treat every Eval as on_inconclusive: fail (exit 4; the reports and annotations say so too)",
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        metavar="DIR",
        help="where report.md, report.json, junit.xml and report.txt go (default: .flywheel/gate/)",
    )
    parser.add_argument("--json", action="store_true", help="print the JSON report")
    parser.add_argument(
        "--approve-input-changes",
        action="store_true",
        help="a maintainer approved this pull request's changes to the gate's inputs (datasets, graders, policy, "
        "...): use the head's versions; needs --approved-by and --approved-sha (see docs/trust.md)",
    )
    parser.add_argument("--approved-by", metavar="LOGIN", help="who approved (named in the report)")
    parser.add_argument(
        "--approved-sha", metavar="SHA", help="the head commit the approval was given on; any other commit is refused"
    )


def handle(args: argparse.Namespace, out: Console, err: Console) -> int:
    allow_unsafe_if_asked(args)
    gate_args = GateArgs(
        base=args.base,
        specs=tuple(specs_of(args)),
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
