"""Child processes Flywheel starts (the llama.cpp server, the local trainer): no secrets in their environment,
stopped as a whole process group, and (for long-lived servers, `start_guarded`) never outliving Flywheel: not
after SIGTERM, SIGHUP or SIGINT, and not after `kill -9`. `owns_port` tells a server we started from another
process's server on the same port."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from runner.subproc_guard import GRACE_S as GUARD_GRACE_S

SECRET_SUFFIXES = ("_KEY", "_TOKEN", "_SECRET")


def scrubbed_env() -> dict[str, str]:
    """This process's environment without any variable that looks like a secret (`*_KEY`, `*_TOKEN`,
    `*_SECRET`): a child that needs no key never holds one."""
    return {k: v for k, v in os.environ.items() if not k.endswith(SECRET_SUFFIXES)}


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Terminate `process` and its process group (started with `start_new_session=True`), killing it if it
    lingers past 10 s."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@dataclass
class GuardedProcess:
    """A child started through `runner.subproc_guard`: it cannot outlive this process (the guard stops it
    when our end of its stdin pipe closes, which the kernel does even after `kill -9`), and the guard itself
    dies with a parent-death signal on the child."""

    guard: subprocess.Popen[bytes]
    pid: int
    """The pid of the guarded command (not the guard's)."""
    log: Path

    @property
    def returncode(self) -> int | None:
        return self.guard.returncode

    def poll(self) -> int | None:
        """The command's exit code once it (and so the guard) ended, else None."""
        return self.guard.poll()

    def wait(self, timeout: float | None = None) -> int:
        return self.guard.wait(timeout)

    def stop(self) -> None:
        """Stop the command: close the guard's stdin (it stops the command's process group and exits); kill
        both if that takes longer than the guard's grace period allows."""
        if self.guard.stdin is not None and not self.guard.stdin.closed:
            with contextlib.suppress(OSError):
                self.guard.stdin.close()
        try:
            self.guard.wait(timeout=GUARD_GRACE_S + 5)
        except subprocess.TimeoutExpired:
            for pid in (self.pid, self.guard.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            self.guard.wait(timeout=10)
        if self.guard.stdout is not None:
            self.guard.stdout.close()


def start_guarded(cmd: Sequence[str], log: Path, env: Mapping[str, str] | None = None) -> GuardedProcess:
    """Start `cmd` (output to `log`) under a guard process; see GuardedProcess."""
    log.parent.mkdir(parents=True, exist_ok=True)
    guard = subprocess.Popen(
        [sys.executable, "-m", "runner.subproc_guard", "--log", str(log), "--", *cmd],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=dict(env) if env is not None else scrubbed_env(),
        start_new_session=True,  # Ctrl-C in the terminal reaches Flywheel, which stops the guard in order
    )
    assert guard.stdout is not None
    line = guard.stdout.readline().strip()
    if not line.isdigit():
        guard.kill()
        guard.wait()
        raise OSError(f"could not start {cmd[0]} under its guard (see {log})")
    return GuardedProcess(guard, int(line), log)


def _listening_inodes(port: int) -> set[str] | None:
    """Inodes of the loopback/any TCP sockets listening on `port`; None where /proc/net is not readable."""
    found: set[str] = set()
    readable = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                found.add(fields[9])
    return found if readable else None


def owns_port(pid: int, port: int) -> bool:
    """Whether process `pid` holds the socket listening on `port` (so a health check answered on that port
    was answered by our server, not by another process that took the port first). True where /proc cannot
    tell (not Linux)."""
    inodes = _listening_inodes(port)
    if inodes is None:
        return True
    if not inodes:
        return False
    wanted = {f"socket:[{inode}]" for inode in inodes}
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                return True
    return False


def stop_on_signals() -> Callable[[], None]:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt (as SIGINT already is), so `finally` blocks and context
    managers stop child processes on the way out; returns a function restoring the previous handlers. A no-op
    outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum: int, frame: FrameType | None) -> None:
        # Inside asyncio.run the SIGINT handler is asyncio's: it cancels the main task and raises
        # KeyboardInterrupt once that has unwound. Raising here instead would leave a task holding the
        # exception, which asyncio then prints as "Task exception was never retrieved".
        on_sigint = signal.getsignal(signal.SIGINT)
        if callable(on_sigint) and on_sigint is not signal.default_int_handler:
            on_sigint(signal.SIGINT, frame)
            return
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
