"""`kind: Dataset`: JSONL or CSV items in the repo, an item schema, the id field and named splits."""

from __future__ import annotations

from pydantic import model_validator

from runner.specs.common import JsonObject, StrictModel

SplitName = str


class DatasetSpec(StrictModel):
    """A JSONL dataset (one JSON object per line), or CSV (`.csv`: a header row names the fields; every value is
    a string). Paths are relative to the spec file that declares it."""

    path: str | None = None
    """One JSONL or CSV file holding every item. Use with `split_field`, or alone for a single split `all`."""
    files: dict[SplitName, str] | None = None
    """Split name -> JSONL or CSV file, when each split has its own file (instead of `path`)."""
    split_field: str | None = None
    """With `path`: the item field whose value names the item's split (e.g. `split`)."""
    id_field: str = "id"
    """The item field holding a unique, stable id; the gate pairs items by it."""
    item_schema: JsonObject | None = None
    """JSON Schema every item must satisfy (checked by `flywheel validate`)."""
    cluster_field: str | None = None
    """Items sharing a value here share a context; the gate's bootstrap resamples them together."""

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        if (self.path is None) == (self.files is None):
            raise ValueError("give exactly one of `path` (one file) or `files` (one file per split)")
        if self.files is not None and self.split_field is not None:
            raise ValueError("`split_field` works with `path`; with `files` each file is its own split")
        if self.files is not None and not self.files:
            raise ValueError("`files` needs at least one split, e.g. files: {test: test.jsonl}")
        return self
