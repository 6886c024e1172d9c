"""Run `flywheel` as a subprocess under an RLIMIT_AS cap, cheaply: one server process imports the CLI once and
forks a fresh child per command (its own session, address-space cap, working folder and output files), so a
table of a hundred hostile inputs costs a fork each instead of an interpreter start each."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVER = r"""
import json, os, resource, sys, time, traceback
from runner.cli import main
import runner.commands.validate, runner.specs.checks  # imported once, before any fork

def vm_bytes():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0

print(json.dumps({"vm": vm_bytes()}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            os.setsid()
            resource.setrlimit(resource.RLIMIT_AS, (req["as_bytes"], req["as_bytes"]))
            os.chdir(req["cwd"])
            for fd, path in ((1, req["out"]), (2, req["err"])):
                os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
            code = main(req["argv"])
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    timed_out = False
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - start > req["timeout"]:
            timed_out = True
            os.killpg(pid, 9)
            done, status, usage = os.wait4(pid, 0)
            break
        time.sleep(0.002)
    print(json.dumps({"code": os.waitstatus_to_exitcode(status), "timed_out": timed_out,
                      "seconds": time.monotonic() - start, "maxrss": usage.ru_maxrss * 1024}), flush=True)
"""


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float
    maxrss: int


class CliServer:
    """`run(argv, cwd)` runs `flywheel argv` in a forked child of one long-lived server process."""

    def __init__(self, headroom: int, timeout_s: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.vm = int(self._read()["vm"])
        self.cap = self.vm + headroom
        """The RLIMIT_AS of each command: the server's address space after imports plus `headroom`."""
        self.timeout_s = timeout_s

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "the CLI server died"
        answer: dict[str, Any] = json.loads(line)
        return answer

    def run(self, argv: list[str], cwd: Path, scratch: Path) -> Outcome:
        assert self.proc.stdin is not None
        out, err = scratch / "stdout.txt", scratch / "stderr.txt"
        request = {"argv": argv, "cwd": str(cwd), "out": str(out), "err": str(err), "as_bytes": self.cap}
        self.proc.stdin.write(json.dumps({**request, "timeout": self.timeout_s}) + "\n")
        self.proc.stdin.flush()
        answer = self._read()
        return Outcome(
            answer["code"], _read_text(out), _read_text(err), answer["timed_out"], answer["seconds"], answer["maxrss"]
        )

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


def _read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
