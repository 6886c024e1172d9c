"""Alias moves edit only the target Model document; everything else in the file stays byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import FinetuneError
from runner.finetune.aliases import prune_adapters, register_adapter, set_alias
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


def test_prune_drops_adapters_no_alias_names_and_deletes_their_files(tmp_path: Path) -> None:
    path = _write(tmp_path)
    for model_id in ("ft-old", "ft-champion", "ft-challenger"):
        adapter = tmp_path / f"{model_id}.gguf"
        adapter.write_bytes(model_id.encode())
        register_adapter(load_specs([path.parent]), "student", model_id, adapter)
    specs = load_specs([path.parent])
    set_alias(specs, "student", "champion", "ft-champion")
    set_alias(specs, "student", "challenger", "ft-challenger")
    (path.parent / "keep.gguf").write_bytes(b"not an adapter Flywheel wrote")

    assert prune_adapters(specs, "student") == ["ft-old"]

    adapters = load_specs([path.parent]).models["student"].doc.spec.adapters
    assert set(adapters) == {"ft-champion", "ft-challenger"}
    assert sorted(p.name for p in (path.parent / "adapters").iterdir()) == ["ft-challenger.gguf", "ft-champion.gguf"]
    assert (path.parent / "keep.gguf").exists()
    inode = path.stat().st_ino
    assert prune_adapters(specs, "student") == []
    assert path.stat().st_ino == inode  # nothing to drop: the file is not rewritten (writes replace the inode)
