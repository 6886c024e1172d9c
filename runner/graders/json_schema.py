"""`json_schema` (Flywheel): the input must parse as JSON and satisfy the schema. Score 1 or 0; the first
violation is kept as the reasoning, so a reviewer sees why an output failed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jsonschema

from runner.graders.base import GradeContext, GradeResult, Sample
from runner.graders.render import render_for
from runner.hashing import canonical_json
from runner.specs.grader import JsonSchemaGrader


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Any:
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


class JsonSchemaGraderRunner:
    async def grade(
        self, spec: JsonSchemaGrader, sample: Sample, item: Mapping[str, Any], ctx: GradeContext
    ) -> GradeResult:
        text = render_for(spec.input, sample, item)
        try:
            value = json.loads(text)
        except ValueError as exc:
            return GradeResult(0.0, False, reasoning=f"not JSON: {exc}")
        error = jsonschema.exceptions.best_match(_validator(canonical_json(spec.schema_)).iter_errors(value))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            return GradeResult(0.0, False, reasoning=f"{where}: {error.message}"[:1000])
        return GradeResult(1.0, True)
