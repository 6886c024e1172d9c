"""`flywheel serve`: the embedded model's OpenAI-compatible server in the foreground, until Ctrl-C."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rich.console import Console

from runner.errors import ExitCode, UsageError
from runner.models.local import start_server
from runner.specs.model import LOCAL_MODEL_ID


def serve(port: int, adapter: Path | None, out: Console) -> int:
    """Start the server, print its base URL, wait; Ctrl-C stops it (exit 130 via the CLI)."""
    if adapter is not None and not adapter.is_file():
        raise UsageError(f"{adapter}: no such adapter file")
    log_dir = Path(tempfile.gettempdir()) / "flywheel-logs"
    server = start_server(log_dir, adapter.resolve() if adapter else None, port=port)
    try:
        out.print(f"serving {LOCAL_MODEL_ID} at {server.base_url} (log {server.log}); Ctrl-C stops it", markup=False)
        server.process.wait()
        return ExitCode.ERROR  # it exited on its own
    finally:
        server.stop()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--adapter", type=Path, help="a LoRA adapter (GGUF) to serve on top of the base model")


def handle(args: argparse.Namespace, out: Console, err: Console) -> int:
    return serve(args.port, args.adapter, out)
