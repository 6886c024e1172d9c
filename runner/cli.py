"""The `flywheel` command: parse arguments and dispatch to runner.commands. Nothing else lives here."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from rich.console import Console

from runner import __version__
from runner.errors import ExitCode, FlywheelError

EPILOG = """exit codes: 0 ok | 1 error (invalid specs or input) | 2 changes (plan --detailed-exitcode)
| 3 regression (gate) | 4 inconclusive with on_inconclusive: fail (gate) | 70 internal error | 130 interrupted
(see docs/exit-codes.md)"""


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad arguments; in Flywheel's contract 2 means 'plan has changes', so use 1."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(int(ExitCode.ERROR), f"{self.prog}: error: {message}\n")


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
        default=[Path("specs")],
        metavar="PATH",
        help="spec files or folders (default: specs/)",
    )

    p = sub.add_parser("schema", help="write the JSON Schemas of the spec kinds (or --check them)")
    p.add_argument("--out", type=Path, default=Path("schemas"), help="folder to write (default: schemas/)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when the schemas are out of date")
    return parser


def _dispatch(args: argparse.Namespace, out: Console) -> int:
    if args.command == "validate":
        from runner.commands.validate import validate  # noqa: PLC0415 - keep start-up light

        return validate(args.paths, out)
    if args.command == "schema":
        from runner.commands.schema import schema  # noqa: PLC0415

        return schema(args.out, args.check, out)
    raise AssertionError(f"unhandled command {args.command}")  # pragma: no cover - argparse enforces choices


def _crash_log(exc: BaseException) -> Path:
    folder = Path(tempfile.gettempdir()) / "flywheel-logs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"crash-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S%fZ')}.log"
    path.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None, run: Callable[[argparse.Namespace, Console], int] = _dispatch) -> int:
    """Entry point of the console script; returns the exit code (see runner.errors.ExitCode)."""
    args = _parser().parse_args(argv)
    out = Console(soft_wrap=True, markup=False, emoji=False, highlight=False)
    err = Console(stderr=True, soft_wrap=True, markup=False, emoji=False, highlight=False)
    try:
        return int(run(args, out))
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


def entry() -> None:
    """Console-script wrapper."""
    sys.exit(main())
