"""`flywheel init`: scaffold specs/, the .gitignore entry, the workflows and a README into a project."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from runner.errors import ExitCode
from runner.scaffold import ACTION_REF, plan_init, write_init

VERBS = {"create": "created", "append": "added .flywheel/ to", "unchanged": "unchanged"}


def init(project: Path, example: str, provider: str, action: str, out: Console) -> int:
    """Write the starter files into `project` (refusing to overwrite any); print what was written."""
    planned = plan_init(project, example, provider, action)
    write_init(project, planned)
    for p in planned:
        out.print(f"{VERBS[p.status]} {p.path}", markup=False, highlight=False)
    if all(p.status == "unchanged" for p in planned):
        out.print("nothing to do: this project is already initialised", markup=False, highlight=False)
        return ExitCode.OK
    out.print(f"next: flywheel validate && flywheel run {example}", markup=False, highlight=False)
    return ExitCode.OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", nargs="?", type=Path, default=Path(), metavar="DIR", help="project folder (default: .)")
    parser.add_argument("--example", default="triage", metavar="NAME", help="example eval to start from: %(default)s")
    parser.add_argument(
        "--provider",
        choices=("local", "openai"),
        default="local",
        help="local: the embedded model, no key (default); openai: OpenAI with OPENAI_API_KEY",
    )
    parser.add_argument(
        "--action",
        default=None,
        metavar="OWNER/REPO@REF",
        help="the Flywheel GitHub Action the workflows use (default: this release's major tag)",
    )


def handle(args: argparse.Namespace, out: Console, err: Console) -> int:
    return init(args.dir, args.example, args.provider, args.action or ACTION_REF, out)
