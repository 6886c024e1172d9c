"""The `flywheel` command: assemble the parser from the command registry, dispatch, and turn errors into exit
codes. Each command's arguments and handler live in its module (`runner.commands.registry`)."""

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
from runner.commands.registry import COMMANDS, load
from runner.errors import ExitCode, FlywheelError
from runner.subproc import stop_on_signals

EPILOG = """exit codes: 0 ok | 1 error (invalid specs or input) | 2 changes (plan --detailed-exitcode)
| 3 regression (gate) | 4 inconclusive with on_inconclusive: fail (gate) | 5 cells failed after their retries
(run, apply) | 70 internal error | 130 interrupted
(see docs/exit-codes.md)"""


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad arguments; in Flywheel's contract 2 means 'plan has changes', so use 1."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(int(ExitCode.ERROR), f"{self.prog}: error: {message}\n")


def _selected(argv: Sequence[str]) -> str | None:
    """The command named in `argv` (the first word that is one), so only its module is imported."""
    return next((word for word in argv if word in COMMANDS), None)


def _parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; only the `selected` command's arguments are declared (the others are not being run)."""
    parser = _Parser(
        prog="flywheel",
        description="Declarative, GitOps-style evals for LLM applications.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"flywheel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, info in COMMANDS.items():
        command = sub.add_parser(name, help=info.summary)
        if name == selected:
            load(name).add_arguments(command)
    return parser


def _dispatch(args: argparse.Namespace, out: Console, err: Console) -> int:
    return load(args.command).handle(args, out, err)


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
    words = sys.argv[1:] if argv is None else list(argv)
    args = _parser(_selected(words)).parse_args(words)
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
