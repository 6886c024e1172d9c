"""The sandbox worker: one process serving many `grade(sample, item)` calls of one python grader.

Started by `runner.sandbox.worker` as `python -I -S -B -X utf8 child.py` (no `site`: Flywheel passes
`sys.path`) with an empty environment, in its own session, in an empty folder. Before any grader code runs it
sets its resource limits, arranges to die with Flywheel, confines itself (Landlock, then seccomp:
`runner.sandbox.kernel`) and adds an audit hook as a second line of defence. Then it compiles the grader and
answers requests.

Protocol: one JSON line on stdin configures it, then one JSON line per request `{"sample", "item"}`. Every
answer is one line on stdout starting with `ANSWER`: first what confinement applied (or `{"refused": why}`),
then `{"ready": true}` once the grader's module code ran (or `{"ready": false, "error": ...}`), then
`{"score": x}` or `{"error": "..."}` per request, echoing its `seq`. Anything else on stdout or stderr is
the grader's noise.
This file and `kernel.py` import nothing from Flywheel.
"""

import io
import json
import math
import os
import resource
import sys

ANSWER = b"\x1eFLYWHEEL "
BLOCKED_PREFIXES = (
    "socket.", "subprocess.", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.system", "os.kill",
    "os.killpg", "pty.", "ctypes.", "os.remove", "os.rename", "os.rmdir", "os.unlink", "os.mkdir", "os.chmod",
    "os.chown", "os.truncate", "os.symlink", "os.link", "os.utime", "os.mknod", "os.mkfifo", "os.setxattr",
    "os.removexattr", "shutil.", "webbrowser.", "urllib.", "http.", "ftplib.",
    "smtplib.", "imaplib.", "poplib.", "telnetlib.",
)  # fmt: skip


class Refused(Exception):
    """An operation the sandbox's audit hook refuses (the kernel would refuse most of them too)."""


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


def _answer(out: int, message: dict[str, object]) -> None:
    os.write(out, b"\n" + ANSWER + json.dumps(message).encode() + b"\n")


def _limits(memory_mb: int, cpu_s: int) -> None:
    memory = memory_mb * 1024 * 1024
    for limit, value in (
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_CPU, cpu_s),
        (resource.RLIMIT_FSIZE, 0),
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NOFILE, 64),
        (resource.RLIMIT_MEMLOCK, 0),
    ):
        resource.setrlimit(limit, (value, value))


def _confine(config: dict[str, object]) -> dict[str, object]:
    """Apply every layer; return what applied (the `ready` message) or raise with why seccomp is missing."""
    sys.path[:] = [os.path.dirname(os.path.abspath(__file__)), *config["sys_path"]]  # type: ignore[misc]
    import kernel  # noqa: PLC0415 - beside this file; loaded before confinement

    kernel.die_with_parent()
    kernel.preload(config["libraries"])
    _limits(int(config["memory_mb"]), int(config["cpu_s"]))  # type: ignore[call-overload]
    missing = set(config.get("simulate_missing", ()))  # type: ignore[call-overload]
    status: dict[str, object] = {"landlock": 0, "seccomp": False, "notes": []}
    notes: list[str] = status["notes"]  # type: ignore[assignment]
    try:
        if "landlock" in missing:
            raise kernel.Unavailable("Landlock is not enabled in this kernel (simulated)")
        status["landlock"] = kernel.landlock(list(config["read_paths"]))  # type: ignore[call-overload]
    except kernel.Unavailable as exc:
        notes.append(f"reads are not confined: {exc}")
    try:
        if "seccomp" in missing:
            raise kernel.Unavailable("libseccomp is not available (simulated)")
        kernel.seccomp()
        status["seccomp"] = True
    except kernel.Unavailable as exc:
        if not config.get("unsafe"):
            raise
        notes.append(f"no seccomp filter: {exc}")
    sys.addaudithook(_hook)
    return status


def _grade(grade: object, request: dict[str, object]) -> dict[str, object]:
    try:
        value = grade(request["sample"], request["item"])  # type: ignore[operator]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"grade() returned {type(value).__name__}, expected a number")
        value = float(value)
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"grade() returned {value}")
        return {"score": value}
    except MemoryError:
        return {"error": "MemoryError: the grader exceeded its memory limit"}
    except BaseException as exc:  # all the grader does wrong is a graded error
        return {"error": f"{type(exc).__name__}: {exc}"[:2000]}


def main() -> None:
    out = os.dup(1)
    stdin = sys.stdin.buffer
    config = json.loads(stdin.readline())
    try:
        status = _confine(config)
    except Exception as exc:
        _answer(out, {"refused": str(exc)})
        return
    _answer(out, status)
    source = str(config["source"])
    sys.stdin = io.StringIO("")
    namespace: dict[str, object] = {"__name__": "grader"}
    try:
        sys.stdout = io.StringIO()  # the grader's prints must not mix with the answers
        exec(compile(source, "<grader>", "exec"), namespace)  # this process is the sandbox
        grade = namespace.get("grade")
        if not callable(grade):
            raise TypeError("the grader defines no function `grade(sample, item)`")
    except BaseException as exc:
        _answer(out, {"ready": False, "error": f"{type(exc).__name__}: {exc}"[:2000]})
        return
    _answer(out, {"ready": True})
    while line := stdin.readline():
        sys.stdout = io.StringIO()
        request = json.loads(line)
        _answer(out, {**_grade(grade, request), "seq": request["seq"]})


main()
