"""Options several commands share, declared once: `--specs`, the cassette flags, `--unsafe-python-graders`."""

from __future__ import annotations

import argparse
from pathlib import Path

from runner.project import default_specs

SPECS_HELP = "spec folder or file (default: the project's specs/, found from any subfolder)"


def add_specs(parser: argparse.ArgumentParser) -> None:
    """`--specs PATH` (repeatable); read it back with `specs_of`."""
    parser.add_argument("--specs", type=Path, action="append", metavar="PATH", help=SPECS_HELP)


def specs_of(args: argparse.Namespace) -> list[Path]:
    """The spec paths given with `--specs`, or the project's specs/ (found from any subfolder)."""
    given: list[Path] | None = args.specs
    return given or [default_specs()]


def add_out_dir(parser: argparse.ArgumentParser) -> None:
    """`--out DIR` for commands that write specs."""
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="folder to write into (default: the project's specs/); never overwrites"
    )


def add_cassette(parser: argparse.ArgumentParser) -> None:
    """`--record DIR` or `--replay DIR` (one of them)."""
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--record", type=Path, metavar="DIR", help="write the responses used to DIR/cassette.jsonl")
    mode.add_argument(
        "--replay",
        type=Path,
        metavar="DIR",
        help="answer every call from DIR/cassette.jsonl; no network; a missing entry is an error",
    )


def add_unsafe_python(parser: argparse.ArgumentParser) -> None:
    """`--unsafe-python-graders`; `allow_unsafe_if_asked` acts on it."""
    parser.add_argument(
        "--unsafe-python-graders",
        action="store_true",
        help="run python graders even where seccomp is unavailable (unconfined: only for code you trust; "
        "see docs/security.md)",
    )


def allow_unsafe_if_asked(args: argparse.Namespace) -> None:
    """Let python graders run unconfined when `--unsafe-python-graders` was given."""
    if args.unsafe_python_graders:
        from runner.graders.python import allow_unsafe  # noqa: PLC0415 - only when asked

        allow_unsafe()
