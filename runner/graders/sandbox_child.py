"""The program a python grader runs in (started by `runner.graders.python` as `python -I sandbox_child.py`).

It reads one JSON request `{"source", "sample", "item"}` on stdin, installs an audit hook that refuses network,
process creation, native code loading and writes to files, then runs the grader's `grade(sample, item)` and writes
`{"score": ...}` or `{"error": ...}` as the last line of stdout. This file imports nothing from Flywheel: it must
work with the standard library alone.
"""

import io
import json
import math
import os
import sys

BLOCKED_PREFIXES = (
    "socket.",
    "subprocess.",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.system",
    "os.kill",
    "os.killpg",
    "pty.",
    "ctypes.",
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.unlink",
    "os.mkdir",
    "os.chmod",
    "os.chown",
    "os.truncate",
    "os.symlink",
    "os.link",
    "shutil.",
    "os.putenv",
    "os.unsetenv",
    "winreg.",
    "webbrowser.",
    "urllib.",
    "http.",
    "ftplib.",
    "smtplib.",
    "imaplib.",
    "poplib.",
    "nntplib.",
    "telnetlib.",
)


class Refused(Exception):
    pass


def _hook(event: str, args: tuple[object, ...]) -> None:
    if event.startswith(BLOCKED_PREFIXES):
        raise Refused(f"sandbox: {event} is not allowed in a python grader")
    if event == "open" and len(args) >= 2:
        mode, flags = args[1], args[2] if len(args) > 2 else 0
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC)
        )
        if writing:
            raise Refused("sandbox: writing files is not allowed in a python grader")


def main() -> None:
    out = os.dup(1)
    request = json.loads(sys.stdin.read())
    sys.stdin = io.StringIO("")
    sys.stdout = io.StringIO()  # the grader's prints must not mix with the answer
    namespace: dict[str, object] = {"__name__": "grader"}
    try:
        code = compile(request["source"], "<grader>", "exec")
        sys.addaudithook(_hook)
        exec(code, namespace)  # this process is the sandbox
        grade = namespace.get("grade")
        if not callable(grade):
            raise TypeError("the grader defines no function `grade(sample, item)`")
        value = grade(request["sample"], request["item"])
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"grade() returned {type(value).__name__}, expected a number")
        value = float(value)
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"grade() returned {value}")
        answer: dict[str, object] = {"score": value}
    except MemoryError:
        answer = {"error": "MemoryError: the grader exceeded its memory limit"}
    except BaseException as exc:  # all the grader does wrong is a graded error
        answer = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
    os.write(out, b"\n" + json.dumps(answer).encode() + b"\n")


main()
