"""The hostile python graders: every escape measured against the old audit-hook sandbox, and more.

Each is `(id, source, expected)`: `source` may use `{OUT}` (a folder outside the grader's, which must stay
empty), `{PORT}` (a listening TCP port on 127.0.0.1 that must see no connection) and `{SECRET_FILE}` (a file
holding the secret, outside the grader's folder). `expected` is a substring of the graded error.
"""

from __future__ import annotations

EPERM = "PermissionError: [Errno 1] Operation not permitted"
EACCES = "PermissionError: [Errno 13] Permission denied"
REFUSED = "Refused: sandbox:"

# Switches the audit hook off the three ways that worked before: rebinding module globals through
# sys.modules['__main__'], and patching the hook found through gc. What remains is the kernel's enforcement.
UNHOOK = (
    "import sys, gc\n"
    "m = sys.modules['__main__']\n"
    "m.BLOCKED_PREFIXES = ('no-such-event',)\n"
    "m.isinstance = lambda *a: False\n"
    "for o in gc.get_objects():\n"
    "    if getattr(o, '__name__', '') == '_hook' and hasattr(o, '__code__'):\n"
    "        o.__code__ = (lambda event, args: None).__code__\n"
)
# Raw syscalls through ctypes, raising on failure like the os module does.
SYSCALL = UNHOOK + (
    "import ctypes, os\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "def sys_(n, *args):\n"
    "    r = libc.syscall(n, *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])\n"
    "    if r < 0:\n"
    "        e = ctypes.get_errno()\n"
    "        raise OSError(e, os.strerror(e))\n"
    "    return r\n"
)
G = "def grade(sample, item):\n"


def _g(body: str, prelude: str = "") -> str:
    return prelude + G + "".join(f"    {line}\n" for line in body.splitlines()) + "    return 1.0\n"


HOSTILE: list[tuple[str, str, str]] = [
    # processes: the old escapes first
    (
        "fork-exec-primitive",
        _g(
            "import _posixsubprocess, os\nr, w = os.pipe()\n_posixsubprocess.fork_exec(['/bin/touch', '{OUT}/x'], [b'/bin/touch'], True, (), None, None, -1, -1, -1, -1, -1, -1, r, w, True, False, False, None, None, None, -1, None, False)",
            UNHOOK,
        ),
        EPERM,
    ),
    ("subprocess-hook-off", _g("import subprocess\nsubprocess.run(['/bin/touch', '{OUT}/x'])", UNHOOK), EPERM),
    ("subprocess", _g("import subprocess\nsubprocess.run(['/bin/touch', '{OUT}/x'])"), REFUSED),
    (
        "os-system",
        _g("import os\nassert os.system('touch {OUT}/x') == 0, 'no shell'", UNHOOK),
        "AssertionError: no shell",
    ),
    ("os-fork", _g("import os\nif os.fork() == 0:\n    open('{OUT}/x', 'w')", UNHOOK), EPERM),
    (
        "setsid-child-outlives",
        _g("import os, time\nos.setsid()\nif os.fork() == 0:\n    time.sleep(3)\n    open('{OUT}/late', 'w')", UNHOOK),
        EPERM,
    ),
    ("posix-spawn", _g("import os\nos.posix_spawn('/bin/touch', ['touch', '{OUT}/x'], {{}})", UNHOOK), EPERM),
    ("execv", _g("import os\nos.execv('/bin/touch', ['touch', '{OUT}/x'])", UNHOOK), EPERM),
    ("ctypes-fork", _g("sys_(57)", SYSCALL), EPERM),
    ("ctypes-vfork", _g("sys_(58)", SYSCALL), EPERM),
    ("ctypes-clone-process", _g("sys_(56, 17, 0, 0, 0, 0)", SYSCALL), EPERM),
    ("ctypes-clone3", _g("sys_(435, 0, 0)", SYSCALL), "OSError: [Errno 38] Function not implemented"),
    (
        "ctypes-system",
        _g("r = libc.system(b'touch {OUT}/x')\nassert r == 0, 'system() failed'", SYSCALL),
        "AssertionError: system() failed",
    ),
    ("fork-bomb", _g("import os\nwhile True:\n    os.fork()", UNHOOK), EPERM),
    # signals: the parent is never reachable
    (
        "pidfd-send-signal-parent",
        _g("import os, signal\nsignal.pidfd_send_signal(os.pidfd_open(os.getppid()), signal.SIGTERM)", UNHOOK),
        EPERM,
    ),
    ("kill-parent", _g("import os\nos.kill(os.getppid(), 9)", UNHOOK), EPERM),
    ("kill-process-group", _g("import os\nos.kill(0, 9)", UNHOOK), EPERM),
    ("killpg-parent-group", _g("import os\nos.killpg(os.getpgid(os.getppid()), 9)", UNHOOK), EPERM),
    ("tkill-parent", _g("sys_(200, os.getppid(), 15)", SYSCALL), EPERM),
    ("tgkill-parent", _g("sys_(234, os.getppid(), os.getppid(), 15)", SYSCALL), EPERM),
    ("ptrace-attach-parent", _g("sys_(101, 16, os.getppid(), 0, 0)", SYSCALL), EPERM),
    ("process-vm-readv-parent", _g("sys_(310, os.getppid(), 0, 0, 0, 0, 0)", SYSCALL), EPERM),
    # files: nothing can be created or changed anywhere
    ("write-outside", _g("open('{OUT}/x', 'w').write('owned')", UNHOOK), EPERM),
    (
        "write-own-folder",
        _g("open('planted.py', 'w')\nopen(__import__('os').path.join(item['folder'], 'planted.py'), 'w')", UNHOOK),
        EPERM,
    ),
    ("append-own-data", _g("open(item['folder'] + '/data.txt', 'a').write('x')", UNHOOK), EPERM),
    ("os-open-creat", _g("import os\nos.open('{OUT}/x', os.O_CREAT | os.O_WRONLY)", UNHOOK), EPERM),
    ("os-open-tmpfile", _g("import os\nos.open('{OUT}', os.O_TMPFILE | os.O_RDWR)", UNHOOK), EPERM),
    ("truncate-own-data", _g("import os\nos.truncate(item['folder'] + '/data.txt', 0)", UNHOOK), EPERM),
    ("mkdir", _g("import os\nos.mkdir('{OUT}/d')", UNHOOK), EPERM),
    ("mknod", _g("import os\nos.mknod('{OUT}/n')", UNHOOK), EPERM),
    ("mkfifo", _g("import os\nos.mkfifo('{OUT}/f')", UNHOOK), EPERM),
    ("utime", _g("import os\nos.utime(item['folder'] + '/data.txt', (0, 0))", UNHOOK), EPERM),
    ("setxattr", _g("import os\nos.setxattr(item['folder'] + '/data.txt', 'user.owned', b'1')", UNHOOK), EPERM),
    ("chmod", _g("import os\nos.chmod(item['folder'] + '/data.txt', 0o777)", UNHOOK), EPERM),
    ("symlink", _g("import os\nos.symlink('/etc/passwd', '{OUT}/l')", UNHOOK), EPERM),
    ("rename-own-data", _g("import os\nos.rename(item['folder'] + '/data.txt', '{OUT}/moved')", UNHOOK), EPERM),
    ("unlink-own-data", _g("import os\nos.unlink(item['folder'] + '/data.txt')", UNHOOK), EPERM),
    ("tempfile", _g("import tempfile\ntempfile.mkstemp()", UNHOOK), "FileNotFoundError"),
    ("memfd-create", _g("import os\nos.memfd_create('x')", UNHOOK), EPERM),
    # reading secrets: Flywheel's environment and files outside the grader's folder
    (
        "parent-environ",
        _g("import os\nraise RuntimeError(open(f'/proc/{{os.getppid()}}/environ').read())", UNHOOK),
        EACCES,
    ),
    (
        "parent-cmdline-and-fds",
        _g("import os\nraise RuntimeError(os.listdir(f'/proc/{{os.getppid()}}/fd'))", UNHOOK),
        EACCES,
    ),
    (
        "own-environ",
        _g("import os\nraise RuntimeError(repr(dict(os.environ)) + open('/proc/self/environ').read())", UNHOOK),
        EACCES,
    ),
    ("file-outside", _g("raise RuntimeError(open('{SECRET_FILE}').read())", UNHOOK), EACCES),
    ("etc-shadow", _g("raise RuntimeError(open('/etc/shadow').read())", UNHOOK), EACCES),
    ("home-folder", _g("import os\nraise RuntimeError(os.listdir('/root'))", UNHOOK), EACCES),
    # network
    ("socket", _g("import socket\nsocket.create_connection(('127.0.0.1', {PORT}))"), REFUSED),
    ("socket-hook-off", _g("import socket\nsocket.create_connection(('127.0.0.1', {PORT}))", UNHOOK), EPERM),
    ("raw-socket-syscall", _g("sys_(41, 2, 1, 0)", SYSCALL), EPERM),
    ("unix-socketpair", _g("import socket\nsocket.socketpair()", UNHOOK), EPERM),
    # the kernel itself
    ("unshare", _g("sys_(272, 0x10000000)", SYSCALL), EPERM),
    ("mount", _g("sys_(165, b'none', b'/tmp', b'tmpfs', 0, 0)", SYSCALL), EPERM),
    ("bpf", _g("sys_(321, 0, 0, 0)", SYSCALL), EPERM),
    ("io-uring", _g("sys_(425, 8, 0)", SYSCALL), EPERM),
    ("userfaultfd", _g("sys_(323, 0)", SYSCALL), EPERM),
    ("keyctl", _g("sys_(250, 0, 0, 0, 0)", SYSCALL), EPERM),
    ("openat2", _g("sys_(437, -100, b'/etc/passwd', 0, 0)", SYSCALL), "OSError: [Errno 38] Function not implemented"),
    ("raise-rlimit", _g("import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))", UNHOOK), "ValueError"),
    ("tiocsti", _g("import fcntl, termios\nfcntl.ioctl(1, termios.TIOCSTI, b'x')", UNHOOK), EPERM),
    # resources and crashes
    ("busy-loop", _g("while True:\n    pass"), "timed out after 0.5 s"),
    ("sleep", _g("import time\ntime.sleep(60)"), "timed out after 0.5 s"),
    (
        "ignore-sigterm-and-loop",
        _g("import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass"),
        "timed out after 0.5 s",
    ),
    ("memory-bomb", _g("x = bytearray(8 * 1024 ** 3)"), "memory limit"),
    (
        "thread-bomb",
        _g(
            "import threading, time\nfor _ in range(100000):\n    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()"
        ),
        "RuntimeError: can't start new thread",
    ),
    (
        "stdout-flood",
        _g("import os\nwhile True:\n    os.write(1, b'x' * 65536)"),
        "the grader wrote more than 1 MiB of output",
    ),
    (
        "stderr-flood",
        _g("import os\nwhile True:\n    os.write(2, b'y' * 65536)"),
        "the grader wrote more than 1 MiB of output",
    ),
    ("segfault", _g("import ctypes\nctypes.string_at(0)", UNHOOK), "the grader process died with signal 11"),
    ("abort", _g("import os\nos.abort()"), "the grader process died with signal 6"),
    ("exit-quietly", _g("import os\nos._exit(0)"), "the grader process failed (exit 0)"),
    ("close-every-fd", _g("import os\nos.closerange(0, 64)"), "the grader process failed"),
    ("huge-exception-text", _g("raise RuntimeError('z' * 5_000_000)"), "RuntimeError: zzzz"),
    ("module-level-loop", "while True:\n    pass\n" + G + "    return 1.0\n", "timed out after 0.5 s"),
    (
        "module-level-system",
        UNHOOK + "import os\nassert os.system('touch {OUT}/x') == 0, 'no shell'\n" + G + "    return 1.0\n",
        "AssertionError: no shell",
    ),
]
