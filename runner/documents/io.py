"""Reading and writing result documents and baselines through their models.

On disk a document is canonical JSON laid out one record per line: the header (keys sorted, `items` last) on
the first line, then one line per item, then `]}`. Writers stream items, so memory stays flat; readers take
the header alone (`read_header`) or stream the items (`iter_items`). Every read checks the version first,
migrates older documents and refuses newer or foreign ones with a message naming the file and the fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from runner.documents.migrate import check_version, migrate_header, migrate_item
from runner.documents.results import BaselineHeader, BaselineItem, ItemRecord, ResultHeader
from runner.errors import DocumentError
from runner.fsutil import atomic_text
from runner.hashing import canonical_json

_ITEMS = ',"items":['
_END = "]}"

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ResultDocument:
    """A result document with its items in memory (for streaming, use `read_header` and `iter_items`)."""

    header: ResultHeader
    items: tuple[ItemRecord, ...]


@dataclass(frozen=True)
class BaselineDocument:
    """A baseline with its items."""

    header: BaselineHeader
    items: tuple[BaselineItem, ...]


ScoredDocument = ResultDocument | BaselineDocument
"""Either document: both give `header.metrics`, `header.provenance` and items with `id` and `scores`."""


def write_document(path: Path, header: ResultHeader | BaselineHeader, items: Iterable[BaselineItem]) -> None:
    """Write `header` and `items` (streamed) atomically, one canonical JSON line each."""
    path.parent.mkdir(parents=True, exist_ok=True)
    head = canonical_json(header.model_dump(mode="json", by_alias=True))
    with atomic_text(path) as fh:
        fh.write(head[:-1] + _ITEMS)
        first = True
        for item in items:
            fh.write("\n" if first else ",\n")
            fh.write(canonical_json(item.model_dump(mode="json", by_alias=True)))
            first = False
        fh.write("\n" + _END + "\n")


def read_header(path: Path) -> ResultHeader:
    """The header of the result document at `path`, without reading its items."""
    raw, version = _raw_header(_lines(path), str(path))
    return _typed(ResultHeader, migrate_header(raw, version), str(path), None)


def iter_items(path: Path) -> Iterator[ItemRecord]:
    """The items of the result document at `path`, one at a time, in dataset order."""
    lines = _lines(path)
    _, version = _raw_header(lines, str(path))
    for line_no, raw in _raw_items(lines, str(path)):
        yield _typed(ItemRecord, migrate_item(raw, version), str(path), line_no)


def read_result(path: Path) -> ResultDocument:
    """The whole result document at `path`."""
    return ResultDocument(read_header(path), tuple(iter_items(path)))


def parse_baseline(text: str, source: str) -> BaselineDocument:
    """A baseline from its text; `source` names it in errors (e.g. `baselines/x/m.json on origin/main`)."""
    lines = iter(text.splitlines())
    raw, version = _raw_header(lines, source)
    header = _typed(BaselineHeader, migrate_header(raw, version), source, None)
    items = tuple(_typed(BaselineItem, migrate_item(r, version), source, n) for n, r in _raw_items(lines, source))
    return BaselineDocument(header, items)


def document_json(doc: ResultDocument) -> dict[str, Any]:
    """The document as one JSON value (header fields plus `items`)."""
    return doc.header.model_dump(mode="json", by_alias=True) | {
        "items": [i.model_dump(mode="json", by_alias=True) for i in doc.items]
    }


# -- parsing ----------------------------------------------------------------------------------------------------
def _lines(path: Path) -> Iterator[str]:
    try:
        with path.open(encoding="utf-8") as fh:
            yield from fh
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from None


def _raw_header(lines: Iterator[str], source: str) -> tuple[dict[str, Any], int]:
    """The first line's header fields and their (checked) version."""
    first = next(lines, "").rstrip("\n")
    if not first.endswith(_ITEMS):
        raise DocumentError(f"{source}:1: {_not_a_document(source)}")
    try:
        raw = json.loads(first[: -len(_ITEMS)] + "}")
    except ValueError as exc:
        raise DocumentError(f"{source}:1: invalid JSON ({exc}); {_recreate(source)}") from None
    if not isinstance(raw, dict):
        raise DocumentError(f"{source}:1: {_not_a_document(source)}")
    return raw, check_version(raw, source)


def _raw_items(lines: Iterator[str], source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    line_no = 1
    for line in lines:
        line_no += 1
        text = line.rstrip("\n")
        if text == _END:
            return
        try:
            raw = json.loads(text.removesuffix(","))
        except ValueError as exc:
            raise DocumentError(f"{source}:{line_no}: invalid JSON ({exc}); {_recreate(source)}") from None
        if not isinstance(raw, dict):
            raise DocumentError(f"{source}:{line_no}: an item must be a JSON object; {_recreate(source)}")
        yield line_no, raw
    raise DocumentError(f"{source}: truncated (no closing `]}}` line); {_recreate(source)}")


def _typed(model: type[M], raw: dict[str, Any], source: str, line_no: int | None) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = " -> ".join(str(p) for p in first["loc"])
        item = f"item '{raw.get('id')}' -> " if line_no is not None else ""
        pos = f"{source}:{line_no or 1}"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise DocumentError(f"{pos}: {item}{where}: {first['msg']}{more}; {_recreate(source)}") from None


def _not_a_document(source: str) -> str:
    return f"not a Flywheel result document (the first line must be the header); {_recreate(source)}"


def _recreate(source: str) -> str:
    if source.startswith("baselines/") or "/baselines/" in source:
        return "re-create it on main: flywheel apply && flywheel baseline update"
    return "re-create it: flywheel run EVAL"
