"""Loading datasets (JSONL, or CSV with a header row): parse every line, check ids, splits and the item schema,
hash the content. A CSV row is an item whose fields are the header's columns, all strings, located at the line
the row starts on.

Datasets come from pull requests: each line is read with a size cap (MAX_LINE_BYTES, so a 50 MB line is never
held whole) and decoded on its own, and its JSON may not hold NaN or Infinity, integers longer than
MAX_INT_DIGITS digits or nesting deeper than MAX_DEPTH; each problem is reported at its line.
A CSV file is read whole, so it may not exceed MAX_CSV_BYTES; its lines have the same cap, and a field is capped
by the csv module (128 KiB).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from runner.errors import Diagnostic
from runner.hashing import canonical_json, content_hash
from runner.specs.dataset import DatasetSpec

MAX_LINE_ERRORS = 20
"""Per dataset, after this many bad lines the rest are summarised in one line."""
MAX_LINE_BYTES = 1024 * 1024
MAX_INT_DIGITS = 100
MAX_DEPTH = 64
MAX_CSV_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Item:
    """One dataset row."""

    id: str
    data: Mapping[str, Any]
    split: str
    file: str
    line: int
    hash: str
    """sha256 of the canonical JSON of `data`."""


@dataclass(frozen=True)
class LoadedDataset:
    """A validated dataset, in file order."""

    name: str
    items: tuple[Item, ...]
    fields: frozenset[str]
    """Keys present in at least one item."""
    splits: tuple[str, ...]
    hash: str
    """Content hash over every item's hash and split."""

    def select(self, split: str | None) -> tuple[Item, ...]:
        """Items of `split` (all items when None)."""
        return self.items if split is None else tuple(i for i in self.items if i.split == split)


def _snippet(text: str, line: int, col: int | None) -> tuple[str, ...]:
    shown = text if len(text) <= 120 else text[:117] + "..."
    caret = " " * ((col or 1) - 1) if col is not None and col <= 120 else ""
    return (f"{line:>5} | {shown}", f"      | {caret}^")


class LineProblem(Exception):
    """A line that cannot become an item before JSON parsing (too long, not UTF-8); `col` where known."""

    def __init__(self, message: str, col: int | None, text: str) -> None:
        super().__init__(message)
        self.message, self.col, self.text = message, col, text


def _lines(path: Path) -> Iterator[tuple[int, str | LineProblem]]:
    """(line number, text) per line, or a LineProblem for a line that is too long or not UTF-8."""
    with path.open("rb") as fh:
        n = 0
        while raw := fh.readline(MAX_LINE_BYTES + 1):
            n += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while (rest := fh.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass  # skip the rest of the line without holding it
                yield (
                    n,
                    LineProblem(
                        f"line longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB; keep each item under the limit",
                        None,
                        raw[:120].decode("utf-8", "replace"),
                    ),
                )
                continue
            try:
                yield n, raw.decode("utf-8").rstrip("\n").rstrip("\r")
            except UnicodeDecodeError as exc:
                shown = raw.decode("utf-8", "replace").rstrip("\n")
                message = f"not UTF-8 text (byte 0x{raw[exc.start : exc.start + 1].hex()}); save the file as UTF-8"
                yield n, LineProblem(message, len(raw[: exc.start].decode("utf-8", "replace")) + 1, shown)


def _csv_records(path: Path) -> Iterator[tuple[int, str | LineProblem, dict[str, str] | None]]:
    """(line the row starts on, its first line or a LineProblem, {column: text}) per CSV row after the header."""
    size = path.stat().st_size
    if size > MAX_CSV_BYTES:
        yield (
            1,
            LineProblem(f"CSV file larger than {MAX_CSV_BYTES // (1024 * 1024)} MiB; split it by split", None, ""),
            None,
        )
        return
    data = path.read_bytes()
    try:
        raw = data.decode("utf-8-sig")  # -sig: spreadsheets often start with a BOM
    except UnicodeDecodeError as exc:
        n = data.count(b"\n", 0, exc.start) + 1
        message = f"not UTF-8 text (byte 0x{data[exc.start : exc.start + 1].hex()}); save the file as UTF-8"
        yield n, LineProblem(message, None, ""), None
        return
    physical = [line.rstrip("\r") for line in raw.split("\n")]
    for n, line in enumerate(physical, start=1):
        if len(line.encode("utf-8")) > MAX_LINE_BYTES:
            limit = MAX_LINE_BYTES // (1024 * 1024)
            yield (
                n,
                LineProblem(f"line longer than {limit} MiB; keep each item under the limit", None, line[:120]),
                None,
            )
            return

    def text(n: int) -> str:
        return physical[n - 1] if 1 <= n <= len(physical) else ""

    reader = csv.reader(io.StringIO(raw), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        yield reader.line_num, LineProblem(f"invalid CSV: {exc}", 1, text(reader.line_num)), None
        return
    if header is None:
        return
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes or any(not c.strip() for c in header):
        what = f"repeats the column(s) {', '.join(map(repr, dupes))}" if dupes else "has an empty column name"
        yield 1, LineProblem(f"the header row {what}; give every column a unique name", 1, text(1)), None
        return
    start = reader.line_num + 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, LineProblem(f"invalid CSV: {exc}", 1, text(start)), None
            return
        if values and (len(values) > 1 or values[0].strip()):
            if len(values) != len(header):
                problem = f"row has {len(values)} fields but the header has {len(header)}; quote fields with commas"
                yield start, LineProblem(problem, 1, text(start)), None
            else:
                yield start, text(start) or " ", dict(zip(header, values, strict=True))
        start = reader.line_num + 1


def _records(path: Path) -> Iterator[tuple[int, str | LineProblem, dict[str, str] | None]]:
    """(line, text or problem, the decoded row when it is already known) for a JSONL or CSV file."""
    if path.suffix.lower() == ".csv":
        yield from _csv_records(path)
    else:
        for n, line in _lines(path):
            yield n, line, None


def load_dataset(
    name: str,
    spec: DatasetSpec,
    base_dir: Path,
    root: Path,
    display: Callable[[Path], str],
    spec_diag: Callable[[tuple[str | int, ...], str], Diagnostic],
) -> tuple[LoadedDataset | None, list[Diagnostic]]:
    """Load and check the files of `spec`. `spec_diag(path, msg)` makes a diagnostic pointing into the spec."""
    where = f"Dataset/{name}"
    diags: list[Diagnostic] = []
    validator = None
    if spec.item_schema is not None:
        try:
            jsonschema.Draft202012Validator.check_schema(spec.item_schema)
            validator = jsonschema.Draft202012Validator(spec.item_schema)
        except jsonschema.SchemaError as exc:
            diags.append(spec_diag(("spec", "item_schema"), f"item_schema is not a valid JSON Schema: {exc.message}"))

    sources: list[tuple[str | None, str, tuple[str | int, ...]]] = []
    if spec.path is not None:
        sources.append((None, spec.path, ("spec", "path")))
    else:
        assert spec.files is not None
        sources.extend((split, rel, ("spec", "files", split)) for split, rel in spec.files.items())

    items: list[Item] = []
    first_line: dict[str, tuple[str, int]] = {}
    bad = 0
    for fixed_split, rel, spec_path in sources:
        path = (base_dir / rel).resolve()
        if not path.is_relative_to(root):
            diags.append(spec_diag(spec_path, f"'{rel}' is outside the project root; keep datasets in the repository"))
            continue
        if not path.is_file():
            diags.append(spec_diag(spec_path, f"file '{rel}' not found (looked in {display(path.parent)}/)"))
            continue
        shown = display(path)
        for lineno, line, decoded in _records(path):
            problem: str | None
            if isinstance(line, LineProblem):
                problem, col, row, text = line.message, line.col, None, line.text
            elif not line.strip():
                continue
            elif decoded is not None:  # a CSV row
                text = line
                problem, col, row = _check_row(decoded, spec, fixed_split, validator)
            else:
                text = line
                problem, col, row = _parse_line(text, spec, fixed_split, validator)
            if problem is None and row is not None:
                item_id = str(row[spec.id_field])
                if item_id in first_line:
                    f, ln = first_line[item_id]
                    problem, col = f"duplicate id '{item_id}' (first at {f}:{ln}); ids must be unique", 1
            if problem is not None:
                bad += 1
                if bad <= MAX_LINE_ERRORS:
                    diags.append(Diagnostic(shown, lineno, col, where, problem, _snippet(text, lineno, col)))
                continue
            assert row is not None
            first_line[item_id] = (shown, lineno)
            split = fixed_split if fixed_split is not None else _split_of(row, spec)
            items.append(Item(item_id, row, split, shown, lineno, content_hash(row)))
    if bad > MAX_LINE_ERRORS:
        diags.append(
            Diagnostic(display(base_dir), None, None, where, f"... and {bad - MAX_LINE_ERRORS} more bad lines")
        )
    if not items and not diags:
        diags.append(spec_diag(("spec",), "the dataset has no items; add at least one JSON object per line"))
    if diags:
        return None, diags
    fields = frozenset(k for i in items for k in i.data)
    splits = tuple(sorted({i.split for i in items}))
    digest = content_hash([[i.split, i.hash] for i in items])
    return LoadedDataset(name, tuple(items), fields, splits, digest), []


class _BadNumber(ValueError):
    def __init__(self, message: str, token: str) -> None:
        super().__init__(message)
        self.token = token


def _no_constant(token: str) -> Any:
    raise _BadNumber(f"{token} is not valid JSON; use null or a finite number", token)


def _bounded_int(token: str) -> int:
    if len(token.lstrip("-")) > MAX_INT_DIGITS:
        raise _BadNumber(f"integer with {len(token.lstrip('-'))} digits; the limit is {MAX_INT_DIGITS}", token)
    return int(token)


def _finite_float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise _BadNumber(f"{token} is not a finite number; use a smaller one", token)
    return value


def _column_of(text: str, token: str) -> int | None:
    at = text.find(token)
    return at + 1 if at >= 0 else None


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion (stops counting past MAX_DEPTH)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _split_of(row: Mapping[str, Any], spec: DatasetSpec) -> str:
    return "all" if spec.split_field is None else str(row[spec.split_field])


def _parse_line(
    text: str,
    spec: DatasetSpec,
    fixed_split: str | None,
    validator: jsonschema.Draft202012Validator | None,
) -> tuple[str | None, int | None, dict[str, Any] | None]:
    """(problem, column, row): problem is None when the line is a valid item."""
    try:
        row = json.loads(text, parse_constant=_no_constant, parse_int=_bounded_int, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc.msg}; each line must be one JSON object", exc.colno, None
    except _BadNumber as exc:
        return str(exc), _column_of(text, exc.token), None
    except RecursionError:
        return f"JSON nested more than {MAX_DEPTH} levels deep; flatten the item", 1, None
    if _depth(row) > MAX_DEPTH:
        return f"JSON nested more than {MAX_DEPTH} levels deep; flatten the item", 1, None
    try:
        canonical_json(row).encode("utf-8")
    except UnicodeEncodeError:
        return "not valid Unicode (a lone surrogate escape such as \\ud800); remove it", 1, None
    return _check_row(row, spec, fixed_split, validator)


def _check_row(
    row: Any,
    spec: DatasetSpec,
    fixed_split: str | None,
    validator: jsonschema.Draft202012Validator | None,
) -> tuple[str | None, int | None, dict[str, Any] | None]:
    """(problem, column, row) for a decoded record: problem is None when it is a valid item."""
    if not isinstance(row, dict):
        return f"expected a JSON object, got {type(row).__name__}; each line must be one JSON object", 1, None
    if spec.id_field not in row:
        return f"missing id field '{spec.id_field}'; give every item a unique '{spec.id_field}'", 1, None
    if not isinstance(row[spec.id_field], str | int) or isinstance(row[spec.id_field], bool):
        return f"id field '{spec.id_field}' must be a string or an integer", 1, None
    if fixed_split is None and spec.split_field is not None:
        value = row.get(spec.split_field)
        if not isinstance(value, str) or not value:
            return (
                f"missing split field '{spec.split_field}'; set it to a split name such as \"test\"",
                1,
                None,
            )
    if validator is not None:
        error = min(validator.iter_errors(row), key=lambda e: list(e.absolute_path), default=None)
        if error is not None:
            at = "/".join(str(p) for p in error.absolute_path)
            where = f" at '{at}'" if at else ""
            return f"item does not match item_schema{where}: {error.message}", 1, None
    return None, None, row
