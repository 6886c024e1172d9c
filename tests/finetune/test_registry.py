"""The backend registry: one dict, lazy imports, a clear error for unknown names."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from runner.errors import FinetuneError
from runner.finetune.backends.fake import FakeBackend
from runner.finetune.backends.openai import OpenAIBackend
from runner.finetune.backends.registry import BACKENDS, make_backend


def test_names_match_the_spec_field() -> None:
    assert sorted(BACKENDS) == ["fake", "local", "openai"]


def test_make_fake_passes_options() -> None:
    backend = make_backend("fake", polls=5)
    assert isinstance(backend, FakeBackend) and backend.polls == 5


def test_make_openai_with_key_and_url() -> None:
    backend = make_backend("openai", api_key="sk-test", base_url="http://127.0.0.1:9/v1", cutoff=date(2027, 1, 6))
    assert isinstance(backend, OpenAIBackend) and backend.name == "openai"


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("tinker", {}, "unknown fine-tuning backend 'tinker'; use one of: fake, local, openai"),
        (
            "openai",
            {"api_key": ""},
            "the openai fine-tuning backend needs OPENAI_API_KEY; export it, or use `backend: local`",
        ),
    ],
)
def test_errors(name: str, options: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(FinetuneError) as info:
        make_backend(name, **options)
    assert str(info.value) == expected


def test_registry_imports_no_backend_module() -> None:
    code = (
        "import sys, runner.finetune.backends.registry; "
        "print(sorted(m for m in sys.modules if m.startswith(('torch', 'runner.finetune.backends.'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['runner.finetune.backends.base', 'runner.finetune.backends.registry']"
