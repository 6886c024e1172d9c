"""schemas/ is generated from the pydantic models, committed, and accepts the documents the loader accepts."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from runner import schemagen
from runner.cli import main
from tests.conftest import FIXTURES, REPO


def test_committed_schemas_match_the_models() -> None:
    stale = schemagen.drift(REPO / "schemas")
    assert stale == [], f"schemas drifted: {stale}; run: flywheel schema --out schemas"
    assert sorted(p.name for p in (REPO / "schemas").glob("*.json")) == sorted(schemagen.render_all())


def test_schema_check_fails_on_drift_and_write_fixes_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "schemas"
    assert main(["schema", "--out", str(out)]) == 0
    assert main(["schema", "--out", str(out), "--check"]) == 0
    (out / "eval.schema.json").write_text("{}\n")
    assert main(["schema", "--out", str(out), "--check"]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {out}: out of date: eval.schema.json; run: flywheel schema --out {out}\n"


def test_field_docstrings_become_descriptions() -> None:
    schema = json.loads(schemagen.render_all()["eval.schema.json"])
    repeats = schema["$defs"]["EvalSpec"]["properties"]["repeats"]
    assert repeats["description"] == "Samples per item; use > 1 when sampling is not greedy."


def _registry() -> Registry:
    resources = [(name, Resource.from_contents(json.loads(text))) for name, text in schemagen.render_all().items()]
    return Registry().with_resources(resources)


@pytest.mark.parametrize("folder", [REPO / "specs", FIXTURES / "mini" / "specs"], ids=["examples", "mini"])
def test_every_spec_document_validates_against_the_combined_schema(folder: Path) -> None:
    combined = json.loads(schemagen.render_all()[schemagen.COMBINED])
    validator = jsonschema.Draft202012Validator(combined, registry=_registry())
    docs = [d for f in sorted(folder.rglob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d]
    assert len(docs) >= 6
    for doc in docs:
        errors = [e.message for e in validator.iter_errors(json.loads(json.dumps(doc, default=str)))]
        assert errors == [], (doc["kind"], doc["metadata"]["name"], errors)


def test_combined_schema_rejects_an_unknown_key() -> None:
    combined = json.loads(schemagen.render_all()[schemagen.COMBINED])
    validator = jsonschema.Draft202012Validator(combined, registry=_registry())
    doc = {
        "apiVersion": "flywheel/v1",
        "kind": "Model",
        "metadata": {"name": "m"},
        "spec": {"provider": "local", "model": "x", "temprature": 0},
    }
    assert not validator.is_valid(doc)
