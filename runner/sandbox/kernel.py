"""Kernel confinement a sandbox worker applies to itself before any grader code runs: Landlock, then seccomp-bpf.

Runs inside the worker (`runner/sandbox/child.py`), so it imports only the standard library, `pyseccomp` (ctypes
over the system's libseccomp.so.2) and `landlock` (ctypes over the Landlock syscalls). Both are Linux-only; on
a host without them each function raises `Unavailable` with the reason, and the caller decides (fail closed
for seccomp, reads unconfined for Landlock).
"""

import ctypes
import errno
import os
import sys
import types

PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1
PR_SET_NAME, PR_GET_NAME = 15, 16
CLONE_THREAD = 0x00010000
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND | 0o20000000  # 0o20000000: O_TMPFILE
"""An open carrying any of these bits could create or change a file; only opens with none of them pass."""
IOCTLS = (0x5401, 0x5413, 0x5421, 0x5450, 0x5451)
"""TCGETS (isatty), TIOCGWINSZ, FIONBIO, FIONCLEX, FIOCLEX: nothing that reaches a terminal's input (TIOCSTI)."""

ALLOWED = (
    # memory, threads, time, signals to itself: what the interpreter needs to run pure Python
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mincore", "membarrier",
    "futex", "futex_waitv", "set_robust_list", "get_robust_list", "rseq", "set_tid_address",
    "exit", "exit_group", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait",
    "rt_sigsuspend", "sigaltstack", "pause",
    "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time", "getrandom",
    "sched_yield", "sched_getaffinity", "sched_getparam", "sched_getscheduler", "sched_get_priority_max",
    "sched_get_priority_min", "getcpu",
    "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getgroups", "getresuid",
    "getresgid", "getpgrp", "getpgid", "getsid", "uname", "sysinfo", "getrusage", "times", "getrlimit",
    # files already open (the pipes to Flywheel) and reading what Landlock lets it read
    "read", "readv", "pread64", "preadv", "preadv2", "write", "writev", "close", "close_range",
    "fstat", "newfstatat", "stat", "lstat", "statx", "statfs", "fstatfs", "lseek", "access", "faccessat",
    "faccessat2", "readlink", "readlinkat", "getcwd", "chdir", "fchdir", "getdents", "getdents64", "fcntl",
    "dup", "dup2", "dup3", "fadvise64", "flock",
    "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
    "epoll_pwait", "epoll_pwait2", "eventfd2", "pipe", "pipe2",
)  # fmt: skip
ENOSYS_CALLS = ("clone3", "openat2")
"""Answered 'not implemented' so glibc falls back to `clone` (checked for CLONE_THREAD) and `openat` (checked
for write flags); a plain EPERM would make Python fail where it could have worked."""


class Unavailable(Exception):
    """The kernel feature is missing on this host; the message says why."""


def libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def die_with_parent() -> None:
    """SIGKILL this process when Flywheel dies, so no worker outlives the run that started it."""
    libc().prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def preload(libraries: dict[str, str | None]) -> None:
    """Import both bindings while the process can still do anything; a binding that does not load is reported
    by the function that needs it. `libraries` maps names to the sonames Flywheel found (`find_library` would
    run `ldconfig` in every worker, which costs more than the rest of the start-up)."""
    found = types.ModuleType("ctypes.util")
    found.find_library = libraries.get  # type: ignore[attr-defined]
    sys.modules["ctypes.util"] = ctypes.util = found  # type: ignore[attr-defined]
    for name in ("pyseccomp", "landlock", "landlock.plumbing"):
        try:
            __import__(name)
        except Exception:
            continue


def landlock(read_paths: list[str]) -> int:
    """Allow reading (files and directory listings) only beneath `read_paths`, writing nowhere; also scope
    signals and abstract sockets to this process where the ABI allows. Returns the ABI version applied."""
    try:
        import landlock as ll  # noqa: PLC0415 - the worker imports it only here, before confinement
        from landlock import plumbing  # noqa: PLC0415
    except Exception as exc:  # an import of a Linux-only ctypes package can fail in many ways
        raise Unavailable(f"the landlock package does not load ({exc})") from None
    try:
        abi = int(plumbing.landlock_abi_version())
    except Exception as exc:
        raise Unavailable(f"Landlock is not enabled in this kernel ({exc})") from None
    if abi < 1:
        raise Unavailable("Landlock is not enabled in this kernel")
    handled = int(ll.FSAccess.all())
    read_dir = int(ll.FSAccess.READ_FILE | ll.FSAccess.READ_DIR)
    read_file = int(ll.FSAccess.READ_FILE)

    class Attr(ctypes.Structure):  # the raw ABI: the package only knows handled_access_fs
        _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]

    net = 0b11 if abi >= 4 else 0  # LANDLOCK_ACCESS_NET_BIND_TCP | CONNECT_TCP: no rule grants them
    scoped = 0b11 if abi >= 6 else 0  # LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL
    attr = Attr(handled, net, scoped)
    size = ctypes.sizeof(Attr) if abi >= 6 else (16 if abi >= 4 else 8)
    try:
        fd = _syscall(SYS_CREATE_RULESET, ctypes.byref(attr), size, 0)
        for path in read_paths:
            try:
                target = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                is_dir = os.path.isdir(path)
                rule = plumbing.PathBeneathAttr(read_dir if is_dir else read_file, target)
                plumbing.get_add_rule()(fd, 1, ctypes.byref(rule), 0)
            finally:
                os.close(target)
        libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        plumbing.get_restrict_self()(fd, 0)
        os.close(fd)
    except (OSError, ctypes.ArgumentError) as exc:
        raise Unavailable(f"Landlock refused the ruleset ({exc})") from None
    return abi


SYS_CREATE_RULESET = 444  # the same number on every architecture (a 'generic' syscall)


def _syscall(number: int, *args: object) -> int:
    lib = libc()
    result = int(lib.syscall(number, *args))
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def seccomp() -> None:
    """Install the allow-list filter: everything not listed fails with EPERM (no exec, no process creation,
    no sockets, no signals to others, no ptrace, no file creation or change, opens read-only)."""
    try:
        import pyseccomp as sc  # noqa: PLC0415 - the worker imports it only here, before confinement
    except Exception as exc:  # RuntimeError when libseccomp.so.2 is missing, OSError when it does not load
        raise Unavailable(f"libseccomp is not available ({exc})") from None
    try:
        flt = sc.SyscallFilter(sc.ERRNO(errno.EPERM))
        for name in ALLOWED:
            _rule(sc, flt, sc.ALLOW, name)
        for name in ENOSYS_CALLS:
            _rule(sc, flt, sc.ERRNO(errno.ENOSYS), name)
        _rule(sc, flt, sc.ALLOW, "openat", sc.Arg(2, sc.MASKED_EQ, WRITE_FLAGS, 0))
        _rule(sc, flt, sc.ALLOW, "open", sc.Arg(1, sc.MASKED_EQ, WRITE_FLAGS, 0))
        _rule(sc, flt, sc.ALLOW, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, CLONE_THREAD))
        _rule(sc, flt, sc.ALLOW, "tgkill", sc.Arg(0, sc.EQ, os.getpid()))
        _rule(sc, flt, sc.ALLOW, "prlimit64", sc.Arg(2, sc.EQ, 0))  # read limits, never raise them
        for request in IOCTLS:
            _rule(sc, flt, sc.ALLOW, "ioctl", sc.Arg(1, sc.EQ, request))
        for option in (PR_SET_NAME, PR_GET_NAME):
            _rule(sc, flt, sc.ALLOW, "prctl", sc.Arg(0, sc.EQ, option))
        flt.load()
    except (OSError, RuntimeError, ValueError) as exc:
        raise Unavailable(f"the seccomp filter did not load ({exc})") from None


def _rule(sc: object, flt: object, action: int, name: str, *args: object) -> None:
    """Add one rule; a syscall this architecture does not have is skipped."""
    try:
        flt.add_rule(action, name, *args)  # type: ignore[attr-defined]
    except (ValueError, OSError):
        if sys.flags.dev_mode:
            print(f"sandbox: skipped {name}", file=sys.stderr)
