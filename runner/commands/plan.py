"""`flywheel plan`: what apply would run, and why; exit 2 with --detailed-exitcode when there is work."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from runner.commands.options import add_specs, specs_of
from runner.errors import ExitCode
from runner.finetune.facts import with_retrains
from runner.fsutil import atomic_write_text
from runner.reconcile.desired import desired_targets
from runner.reconcile.plan import Plan, make_plan
from runner.reconcile.render import plan_text
from runner.specs.loader import load_specs
from runner.state.store import load_state


def compute_plan(spec_paths: Sequence[Path], state_dir: Path | None = None) -> tuple[Plan, Path]:
    """Load specs and state and plan; returns the plan and the state folder used."""
    specs = load_specs(spec_paths)
    folder = state_dir or specs.root / ".flywheel"
    the_plan = make_plan(desired_targets(specs), load_state(folder))
    return with_retrains(the_plan, specs), folder


def plan(spec_paths: Sequence[Path], as_json: bool, detailed: bool, out_file: Path | None, out: Console) -> int:
    """Print the plan (text or JSON); save it with `out_file`."""
    the_plan, _ = compute_plan(spec_paths)
    if out_file is not None:
        atomic_write_text(out_file, json.dumps(the_plan.to_json(), indent=2, sort_keys=True) + "\n")
    if as_json:
        out.print(json.dumps(the_plan.to_json(), indent=2, sort_keys=True), markup=False, highlight=False)
    else:
        out.print(plan_text(the_plan), markup=False, highlight=False)
        if out_file is not None:
            out.print(f"saved to {out_file}; apply it with: flywheel apply {out_file}", markup=False, highlight=False)
    if detailed and the_plan.has_changes:
        return ExitCode.CHANGES
    return ExitCode.OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_specs(parser)
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when there is nothing to do, 2 when there are changes, 1 on error",
    )
    parser.add_argument("--out", type=Path, metavar="FILE", help="save the plan for `flywheel apply FILE`")


def handle(args: argparse.Namespace, out: Console, err: Console) -> int:
    return plan(specs_of(args), args.json, args.detailed_exitcode, args.out, out)
