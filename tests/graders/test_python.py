"""The python grader sandbox against hostile graders: secrets, network, runaway CPU and memory, writes, crashes."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from runner.cli import main
from runner.graders import python
from runner.graders.base import GradeResult, Sample
from runner.graders.registry import grade
from runner.sandbox import pool
from runner.specs.grader import GraderSpec
from runner.testing.fake_openai import FakeOpenAI
from tests.conftest import copy_fixture
from tests.graders.conftest import context
from tests.graders.hostile_graders import HOSTILE

SPEC: TypeAdapter[GraderSpec] = TypeAdapter(GraderSpec)


def _grade(source: str, output: str = "42", spec_dir: Path | None = None, **extra: Any) -> GradeResult:
    body = {"type": "python", "source": source, **extra}
    return asyncio.run(grade(SPEC.validate_python(body), Sample(output), {"answer": "42"}, context(spec_dir=spec_dir)))


def test_a_grader_scores_with_sample_and_item() -> None:
    source = (
        "def grade(sample, item):\n    print('noise on stdout is ignored')\n"
        "    return 1.0 if sample['output_text'] == item['answer'] else 0.25\n"
    )
    assert (_grade(source).score, _grade(source).passed) == (1.0, True)
    result = _grade(source, output="41")
    assert (result.score, result.passed, result.error) == (0.25, False, None)
    assert _grade(source, output="41", pass_threshold=0.2).passed


def test_a_grader_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "g.py").write_text("import json\n\ndef grade(sample, item):\n    return len(json.dumps(item)) / 100\n")
    body = {"type": "python", "file": "g.py"}
    result = asyncio.run(grade(SPEC.validate_python(body), Sample("x"), {"a": 1}, context(spec_dir=tmp_path)))
    assert result.score == pytest.approx(len('{"a": 1}') / 100)


def test_secrets_in_the_environment_are_not_inherited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-secret")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_secret")
    source = (
        "import os\ndef grade(sample, item):\n    env = dict(os.environ)\n"
        "    return 0.0 if any('secret' in v for v in env.values()) or 'OPENAI_API_KEY' in env else 1.0\n"
    )
    assert _grade(source).score == 1.0


def test_the_grader_cannot_open_a_socket() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        accepted: list[object] = []
        server.settimeout(1)
        thread = threading.Thread(target=lambda: accepted.append(_accept(server)))
        thread.start()
        source = (
            f"import socket\ndef grade(sample, item):\n    socket.create_connection(('127.0.0.1', {port}))\n"
            "    return 1.0\n"
        )
        result = _grade(source)
        thread.join()
    assert result.error is not None and "socket" in result.error
    assert accepted == [None]  # nothing connected


def _accept(server: socket.socket) -> object:
    try:
        conn, _ = server.accept()
    except TimeoutError:
        return None
    conn.close()
    return "connected"


def test_low_level_socket_access_is_refused_too() -> None:
    source = "import _socket\ndef grade(sample, item):\n    _socket.socket()\n    return 1.0\n"
    result = _grade(source)
    assert result.error is not None and "socket" in result.error


def test_an_infinite_loop_is_stopped() -> None:
    result = _grade("def grade(sample, item):\n    while True:\n        pass\n", timeout_s=1)
    assert (result.score, result.passed) == (0.0, False)
    assert result.error == "python grader: timed out after 1 s"


def test_a_sleeping_grader_times_out() -> None:
    result = _grade("import time\ndef grade(sample, item):\n    time.sleep(60)\n", timeout_s=0.5)
    assert result.error is not None and "timed out" in result.error


def test_a_huge_allocation_hits_the_memory_limit() -> None:
    result = _grade("def grade(sample, item):\n    x = bytearray(8 * 1024 ** 3)\n    return 1.0\n", memory_mb=256)
    assert result.error is not None and "memory limit" in result.error


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("import subprocess\ndef grade(s, i):\n    subprocess.run(['id'])\n", "subprocess"),
        ("import os\ndef grade(s, i):\n    os.system('id')\n", "os.system"),
        ("def grade(s, i):\n    open('owned.txt', 'w').write('x')\n", "writing files"),
        ("import ctypes\ndef grade(s, i):\n    ctypes.CDLL(None)\n", "ctypes"),
        ("def grade(s, i):\n    raise RuntimeError('boom')\n", "RuntimeError: boom"),
        ("def grade(s, i):\n    return 'high'\n", "expected a number"),
        ("def grade(s, i):\n    return float('nan')\n", "nan"),
        ("def grade_it(s, i):\n    return 1\n", "defines no function"),
        ("import os\ndef grade(s, i):\n    os._exit(0)\n", "failed"),
    ],
)
def test_misbehaving_graders_are_graded_errors(source: str, message: str) -> None:
    result = _grade(source)
    assert (result.score, result.passed) == (0.0, False)
    assert result.error is not None and message in result.error, result.error


def test_a_missing_grader_file_is_a_graded_error(tmp_path: Path) -> None:
    body = {"type": "python", "file": "missing.py"}
    result = asyncio.run(grade(SPEC.validate_python(body), Sample("x"), {}, context(spec_dir=tmp_path)))
    assert result.error is not None and "missing.py" in result.error


SECRET = "sk-live-HOSTILE-13-secret"


@pytest.fixture(params=["namespaces", "no-unshare"])
def host(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """Run each hostile grader twice: as configured here, and as on a CI host without `unshare` on PATH."""
    pool.shutdown()  # only this test's workers count below
    if request.param == "no-unshare":
        empty = tmp_path / "empty-path"
        empty.mkdir()
        monkeypatch.setenv("PATH", str(empty))
    python._unshare_prefix.cache_clear()
    if request.param == "namespaces" and not python.network_isolated():
        pytest.skip("user namespaces are not available on this host")
    yield request.param
    pool.shutdown()
    python._unshare_prefix.cache_clear()


def _session_members(sid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[3]) == sid:
                members.append(int(entry.name))
    return members


@pytest.mark.parametrize(("source", "expected"), [pytest.param(s, e, id=i) for i, s, e in HOSTILE])
def test_a_hostile_grader_is_contained(
    host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, expected: str
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("GITHUB_TOKEN", SECRET)
    folder, out, cwd = tmp_path / "grader", tmp_path / "out", tmp_path / "cwd"
    for d in (folder, out, cwd):
        d.mkdir()
    (folder / "data.txt").write_text("grader data\n")
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET)
    monkeypatch.chdir(cwd)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        code = source.format(OUT=out, PORT=server.getsockname()[1], SECRET_FILE=secret_file)
        timeout_s = 0.5 if "timed out" in expected else 5
        spec = SPEC.validate_python({"type": "python", "source": code, "timeout_s": timeout_s, "memory_mb": 512})

        async def two_items() -> list[GradeResult]:
            ctx = context(spec_dir=folder)
            item = {"folder": str(folder)}
            return [await grade(spec, Sample("42"), {**item, "n": n}, ctx) for n in (1, 2)]

        results = asyncio.run(two_items())
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody connected
    started = [p for x in list(pool._pools.values()) for p in x.started]
    pool.shutdown()
    for result in results:  # a graded error each time: the run goes on with a fresh worker
        assert (result.score, result.passed) == (0.0, False)
        assert result.error is not None and expected in result.error, result.error
        assert SECRET not in result.error
    assert len(started) == 2
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing created anywhere we can see
    assert (folder / "data.txt").read_text() == "grader data\n"
    time.sleep(0.05)
    assert [m for pid in started for m in _session_members(pid)] == []  # no process survives


def test_without_seccomp_python_graders_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(python._settings, "simulate_missing", ("seccomp",))
    monkeypatch.delenv(python.UNSAFE_ENV, raising=False)
    result = _grade("def grade(sample, item):\n    return 1.0\n", spec_dir=tmp_path)
    assert result.error == (
        "python grader refused: libseccomp is not available (simulated); python graders need seccomp "
        "(see docs/security.md), or pass --unsafe-python-graders (or set FLYWHEEL_UNSAFE_PYTHON_GRADERS=1) "
        "to run them without it"
    )
    pool.shutdown()


def test_the_user_can_opt_in_to_run_without_seccomp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(python._settings, "simulate_missing", ("seccomp", "landlock"))
    monkeypatch.setenv(python.UNSAFE_ENV, "1")
    python.notes.clear()
    assert _grade("def grade(sample, item):\n    return 0.5\n", spec_dir=tmp_path).score == 0.5
    assert python.notes == {
        "reads are not confined: Landlock is not enabled in this kernel (simulated)",
        "no seccomp filter: libseccomp is not available (simulated)",
    }
    pool.shutdown()


def test_a_worker_grades_many_samples_and_keeps_no_state_after_an_error(tmp_path: Path) -> None:
    source = (
        "import os\ncalls = []\ndef grade(sample, item):\n    calls.append(1)\n"
        "    if item['boom']:\n        raise ValueError('boom')\n    return float(len(calls) * 1000 + os.getpid() % 1000) / 1e6\n"
    )
    spec = SPEC.validate_python({"type": "python", "source": source})

    async def many() -> list[GradeResult]:
        ctx = context(spec_dir=tmp_path)
        return [await grade(spec, Sample("x"), {"boom": n == 3}, ctx) for n in range(6)]

    results = asyncio.run(many())
    counts = [round(r.score * 1e6) // 1000 for r in results]
    assert counts == [1, 2, 3, 0, 1, 2]  # one worker for the first three, a fresh one after the error
    assert results[3].error == "python grader: ValueError: boom"
    pool.shutdown()


HOSTILE_RUN_GRADER = """  type: python
  source: |
    import os
    def grade(sample, item):
        leaked = open(f"/proc/{os.getppid()}/environ").read()
        open("OUT/leak.txt", "w").write(leaked)
        raise RuntimeError(leaked)
"""


def test_a_hostile_grader_in_a_run_fails_its_samples_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    out = tmp_path / "out"
    out.mkdir()
    with FakeOpenAI(responder=lambda body: "apple") as fake:
        repo = copy_fixture("engine", tmp_path / "repo", fake.base_url, "specs/eval.yaml")
        monkeypatch.chdir(repo)
        spec = repo / "specs/eval.yaml"
        exact = '  type: string_check\n  input: "{{ sample.output_text }}"\n  reference: "{{ item.word }}"\n  operation: eq\n'
        spec.write_text(spec.read_text().replace(exact, HOSTILE_RUN_GRADER.replace("OUT", str(out))))
        assert main(["run", "words", "--limit", "3"]) == 0
    pool.shutdown()
    result = json.loads((repo / ".flywheel/results/words/fake.json").read_text())
    assert [i["scores"]["accuracy"]["score"] for i in result["items"]] == [0.0, 0.0, 0.0]
    reasons = [i["reasons"]["accuracy"] for i in result["items"]]
    assert all(r.startswith("python grader: PermissionError: [Errno 13] Permission denied: '/proc/") for r in reasons)
    state = b"".join(p.read_bytes() for p in (repo / ".flywheel").rglob("*") if p.is_file())
    captured = capsys.readouterr()
    assert SECRET.encode() not in state + captured.out.encode() + captured.err.encode()
    assert list(out.iterdir()) == []
