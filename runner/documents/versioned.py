"""One rule for every versioned JSON document Flywheel keeps (state, saved plans, ledger lines, gate reports):
check the version first, migrate older ones step by step, refuse newer or foreign ones naming the file and the
fix, then validate with the document's pydantic model.

Result documents and baselines follow the same rule in `runner.documents.io`, line by line for their layout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from runner.errors import DocumentError

M = TypeVar("M", bound=BaseModel)
Raw = dict[str, Any]
UPGRADE = "upgrade: pip install -U flywheel-evals"


@dataclass(frozen=True)
class Versioned(Generic[M]):
    """A kind of persisted document: its model, the version written now, and how older ones are upgraded."""

    what: str
    """How messages name it: `state file`, `saved plan`, `history line`."""
    model: type[M]
    version: int
    fix: str
    """What to do when a document cannot be read, e.g. `move it aside to start over (results are kept)`."""
    migrations: Mapping[int, Callable[[Raw], Raw]] = field(default_factory=dict)
    """Version n -> the step producing version n + 1, for every n below `version`."""
    unversioned: int | None = None
    """The version a document without a `version` key is read as (ledger lines written before lines carried
    one); None when such a document is foreign."""

    def __post_init__(self) -> None:
        oldest = min(self.migrations, default=self.version)
        missing = [n for n in range(oldest, self.version) if n not in self.migrations]
        if missing:
            raise ValueError(f"{self.what}: no migration from version {missing[0]}")

    @property
    def oldest(self) -> int:
        return min(self.migrations, default=self.version)

    def check_version(self, raw: Raw, source: str) -> int:
        """The version of `raw`, when this Flywheel can read it."""
        version = raw.get("version", self.unversioned)
        if type(version) is not int:
            raise DocumentError(f"{source}: not a Flywheel {self.what} (no integer `version`); {self.fix}")
        if version > self.version:
            raise DocumentError(
                f"{source}: written by a newer Flywheel ({self.what} version {version}; this one reads up to "
                f"version {self.version}); {UPGRADE}"
            )
        if version < self.oldest:
            raise DocumentError(f"{source}: unknown {self.what} version {version}; {self.fix}")
        return version

    def parse(self, raw: object, source: str) -> M:
        """`raw` (parsed JSON) checked, migrated to the current version and validated; `source` names it in
        errors (`path`, `path:line`, or `path on REF`)."""
        if not isinstance(raw, dict):
            raise DocumentError(f"{source}: not a Flywheel {self.what} (not a JSON object); {self.fix}")
        version = self.check_version(raw, source)
        for step in range(version, self.version):
            raw = self.migrations[step](raw)
        try:
            return self.model.model_validate(raw | {"version": self.version})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = " -> ".join(str(p) for p in first["loc"])
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            raise DocumentError(f"{source}: {where}: {first['msg']}{more}; {self.fix}") from None

    def dump(self, doc: M) -> Raw:
        """The document as JSON data, as written."""
        return doc.model_dump(mode="json", by_alias=True)
