"""The python grader sandbox against hostile graders: secrets, network, runaway CPU and memory, writes, crashes."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from runner.graders.base import GradeResult, Sample
from runner.graders.registry import grade
from runner.specs.grader import GraderSpec
from tests.graders.conftest import context

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
    # Whichever stops it first: the CPU limit, or (on a loaded machine, where the loop gets under 1 s of CPU in
    # its wall-clock allowance) the wall-clock timeout.
    assert result.error in (
        "python grader: the grader exceeded its CPU time limit",
        "python grader: timed out after 1 s",
    )


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
