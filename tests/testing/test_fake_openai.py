"""The fake server itself: answers, counts, faults, embeddings, and the standalone mode."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from runner.testing.fake_openai import FakeOpenAI, Fault


def _post(url: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_counts_and_faults() -> None:
    with FakeOpenAI(responder=lambda body: "pong") as fake:
        fake.add_faults(Fault(status=429, retry_after="1"))
        status, _ = _post(f"{fake.base_url}/chat/completions", {"model": "m", "messages": []})
        assert status == 429
        status, body = _post(
            f"{fake.base_url}/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "ping"}]}
        )
        assert status == 200
        assert body["choices"][0]["message"]["content"] == "pong"  # type: ignore[index]
        assert (fake.count, fake.served) == (2, 1)


def test_embeddings_are_deterministic() -> None:
    with FakeOpenAI() as fake:
        _, a = _post(f"{fake.base_url}/embeddings", {"model": "e", "input": ["x", "y"]})
        _, b = _post(f"{fake.base_url}/embeddings", {"model": "e", "input": ["x"]})
        assert a["data"][0]["embedding"] == b["data"][0]["embedding"]  # type: ignore[index]
        assert len(a["data"]) == 2  # type: ignore[arg-type]


def test_standalone_mode_prints_its_url() -> None:
    cmd = [sys.executable, "-m", "runner.testing.fake_openai", "--port", "0"]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
            status, _ = _post(f"{url}/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "a"}]})
            assert status == 200
        finally:
            proc.terminate()


@pytest.mark.parametrize("latency", [0.0])
def test_default_responder_reverses_words(latency: float) -> None:
    with FakeOpenAI(latency_s=latency) as fake:
        _, body = _post(
            f"{fake.base_url}/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "a b c"}]}
        )
        assert body["choices"][0]["message"]["content"] == "c b a"  # type: ignore[index]
