"""The registry of `flywheel` commands: name -> the module that owns the command's arguments and handler.

Each module listed here defines `add_arguments(parser)` and `handle(args, out, err) -> int`. `runner.cli`
imports only the module of the command being run (or whose `--help` is asked), like pip's `commands_dict`, so
`flywheel validate` never pays for importing the engine.
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from typing import Protocol, cast

from rich.console import Console


class CommandModule(Protocol):
    """What a command module provides."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare the command's arguments on its subparser."""
        ...

    def handle(self, args: argparse.Namespace, out: Console, err: Console) -> int:
        """Run the command with the parsed `args`; return its exit code."""
        ...


@dataclass(frozen=True)
class CommandInfo:
    """Where a command lives and the one line `flywheel --help` shows for it."""

    module: str
    summary: str


COMMANDS: dict[str, CommandInfo] = {
    "validate": CommandInfo("runner.commands.validate", "check specs, datasets and templates; print every problem"),
    "init": CommandInfo(
        "runner.commands.init", "start a project: specs/ with a runnable example, .gitignore, workflows"
    ),
    "run": CommandInfo("runner.commands.run", "evaluate an Eval on its models (cached, budgeted, resumable)"),
    "plan": CommandInfo("runner.commands.plan", "show what apply would run and why (pure: no calls)"),
    "apply": CommandInfo("runner.commands.apply", "run what the plan says, record results and state (idempotent)"),
    "gate": CommandInfo(
        "runner.commands.gate", "decide a pull request: compare with the base ref's baselines and policy"
    ),
    "report": CommandInfo(
        "runner.commands.report", "write a self-contained HTML report (and a CSV) of the latest results or gate"
    ),
    "ci": CommandInfo("runner.commands.ci", "GitHub glue for workflows: the PR comment and the drift issue"),
    "baseline": CommandInfo(
        "runner.commands.baseline", "manage baselines/ (per-item scores the gate compares against)"
    ),
    "grader": CommandInfo("runner.commands.grader", "import or export OpenAI grader JSON"),
    "import": CommandInfo(
        "runner.commands.import_",
        "turn another tool's eval suite into specs (openai-evals, oaieval, promptfoo)",
    ),
    "force-unlock": CommandInfo("runner.commands.unlock", "remove the state lock held by an apply that hangs"),
    "serve": CommandInfo(
        "runner.commands.serve", "run the embedded local model's OpenAI-compatible server until Ctrl-C"
    ),
    "schema": CommandInfo(
        "runner.commands.schema", "write the JSON Schemas of the spec kinds and result documents (or --check them)"
    ),
}
"""Every command, in the order `flywheel --help` lists them."""


def load(name: str) -> CommandModule:
    """The module of command `name` (imported now)."""
    return cast(CommandModule, importlib.import_module(COMMANDS[name].module))
