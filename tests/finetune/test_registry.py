"""The backend registry: one dict, lazy imports, a clear error for unknown names."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import get_args

import pytest

from runner.errors import FinetuneError
from runner.finetune.backends.fake import FakeBackend
from runner.finetune.backends.openai import OpenAIBackend
from runner.finetune.backends.registry import BACKENDS, make_backend
from runner.finetune.loop import default_backend
from runner.specs.finetune import FineTuneSpec
from runner.specs.loader import SpecSet, load_specs
from tests.conftest import copy_fixture


def test_names_match_the_spec_field() -> None:
    assert sorted(BACKENDS) == sorted(get_args(FineTuneSpec.model_fields["backend"].annotation))
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


def _openai_recipe(tmp_path: Path, key_env: str | None) -> tuple[FineTuneSpec, SpecSet]:
    """The loop fixture's recipe on the openai backend; its base Model is openai_compatible (another provider)."""
    repo = copy_fixture("loop", tmp_path / "repo", "http://partner.invalid/v1", "specs/specs.yaml")
    spec = repo / "specs/specs.yaml"
    text = spec.read_text().replace("backend: fake", "backend: openai")
    if key_env:
        text = text.replace("  model: student-base", f"  api_key_env: {key_env}\n  model: student-base")
    spec.write_text(text)
    specs = load_specs([repo / "specs"])
    return specs.finetunes["upper-sft"].doc.spec, specs


@pytest.mark.parametrize("key_env", [None, "PARTNER_KEY"])
def test_openai_backend_never_sends_openais_key_to_another_provider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key_env: str | None
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-secret")
    monkeypatch.delenv("PARTNER_KEY", raising=False)
    spec, specs = _openai_recipe(tmp_path, key_env)
    with pytest.raises(FinetuneError) as info:
        default_backend(spec, specs)
    how = "export PARTNER_KEY" if key_env else "set `api_key_env` on the Model"
    assert str(info.value) == (
        f"the openai fine-tuning backend needs the key of Model 'student' (its base_model); {how}, "
        "or use `backend: local`"
    )


def test_openai_backend_uses_the_base_models_key_and_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-secret")
    monkeypatch.setenv("PARTNER_KEY", "pk-partner")
    spec, specs = _openai_recipe(tmp_path, "PARTNER_KEY")
    backend = default_backend(spec, specs)
    assert isinstance(backend, OpenAIBackend)
    assert backend._client.api_key == "pk-partner"
    assert str(backend._client.base_url) == "http://partner.invalid/v1/"
