"""Alias moves edit only the target Model document; everything else in the file stays byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import FinetuneError
from runner.finetune.aliases import register_adapter, set_alias
from runner.specs.loader import load_specs

OTHER = """\
apiVersion: flywheel/v1
kind: Model
metadata:
  name: judge
  description: LLM judge for answer quality. Local by default so the examples run offline; point it at a
    stronger model (provider openai, model gpt-4.1-mini) when a key is available.
spec:
  provider: local
  model: smollm2-135m-instruct
"""

STUDENT = """\
# the model the recipe trains
apiVersion: flywheel/v1
kind: Model
metadata:
  name: student
spec:
  provider: local
  model: smollm2-135m-instruct   # base weights
  aliases:
    champion: smollm2-135m-instruct
"""


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "specs" / "models.yaml"
    path.parent.mkdir()
    path.write_text(f"{OTHER}---\n{STUDENT}", encoding="utf-8")
    return path


def test_set_alias_moves_only_the_target_alias(tmp_path: Path) -> None:
    path = _write(tmp_path)
    specs = load_specs([path.parent])

    assert set_alias(specs, "student", "champion", "smollm2-135m-instruct-ft-1") == path

    text = path.read_text(encoding="utf-8")
    other, student = text.split("---\n")
    assert other == OTHER  # the wrapped description of another document is not re-flowed
    assert "# the model the recipe trains" in student
    assert "model: smollm2-135m-instruct   # base weights" in student
    assert "champion: smollm2-135m-instruct-ft-1" in student
    assert load_specs([path.parent]).models["student"].doc.spec.aliases["champion"] == "smollm2-135m-instruct-ft-1"


def test_register_adapter_copies_the_file_and_lists_it(tmp_path: Path) -> None:
    path = _write(tmp_path)
    adapter = tmp_path / "out.gguf"
    adapter.write_bytes(b"GGUF-adapter")
    specs = load_specs([path.parent])

    dest = register_adapter(specs, "student", "student-ft-1", adapter)

    assert dest == path.parent / "adapters" / "student-ft-1.gguf"
    assert dest.read_bytes() == b"GGUF-adapter"
    assert path.read_text(encoding="utf-8").split("---\n")[0] == OTHER
    assert "student-ft-1: adapters/student-ft-1.gguf" in path.read_text(encoding="utf-8")


def test_unknown_model_is_an_error_and_the_file_is_untouched(tmp_path: Path) -> None:
    path = _write(tmp_path)
    specs = load_specs([path.parent])
    before = path.read_text(encoding="utf-8")
    specs.models["ghost"] = specs.models["student"]  # a stale SpecSet naming a model the file lacks

    with pytest.raises(FinetuneError, match="no Model 'ghost' to update"):
        set_alias(specs, "ghost", "champion", "x")
    assert path.read_text(encoding="utf-8") == before
