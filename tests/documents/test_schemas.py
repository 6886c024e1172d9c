"""The generated schemas of the documents Flywheel writes accept today's documents (the drift test in
tests/test_schemagen.py keeps schemas/ equal to the models)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.conftest import FIXTURES, REPO

DOCS = FIXTURES / "documents"


@pytest.mark.parametrize(
    ("schema", "fixture"),
    [
        ("state.schema.json", "state-v1.json"),
        ("plan.schema.json", "plan-v1.json"),
        ("history-line.schema.json", "history-v1.jsonl"),
        ("lineage-line.schema.json", "lineage-v1.jsonl"),
    ],
)
def test_todays_documents_validate_against_their_schema(schema: str, fixture: str) -> None:
    validator = jsonschema.Draft202012Validator(json.loads((REPO / "schemas" / schema).read_text()))
    text = (DOCS / fixture).read_text()
    docs = [json.loads(line) for line in text.splitlines()] if fixture.endswith(".jsonl") else [json.loads(text)]
    for doc in docs:
        validator.validate(doc)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(docs[0] | {"version": 99})
