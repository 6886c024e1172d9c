"""The one entry point that loads a spec tree: YAML with positions, version gate, pydantic, cross-checks.

`load_specs(paths)` returns a `SpecSet` or raises `SpecError` carrying every problem found, each as
`file:line:col: Kind/name -> field: message` with a snippet and, where one is known, the fix.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from runner.errors import Diagnostic, SpecError, UsageError
from runner.project import find_project
from runner.specs.common import API_VERSION
from runner.specs.datasets import LoadedDataset
from runner.specs.diagnostics import breadcrumb, did_you_mean, field_problems, snippet
from runner.specs.kinds import (
    KINDS,
    DatasetDoc,
    Document,
    EvalDoc,
    FineTuneDoc,
    GraderDoc,
    ModelDoc,
    PromptDoc,
)
from runner.specs.yamlpos import Path_, YamlDoc, YamlSyntaxError, load_yaml_documents

D = TypeVar("D", bound=BaseModel)
SPEC_SUFFIXES = (".yaml", ".yml")
MAX_SPEC_BYTES = 2 * 1024 * 1024
"""Size limit of one spec file (specs are configuration; data belongs in datasets)."""


@dataclass(frozen=True)
class Located(Generic[D]):
    """A validated document and where it came from."""

    doc: D
    file: Path
    shown: str
    """The path as printed in messages (relative to the working directory when inside it)."""
    yaml: YamlDoc = field(compare=False, repr=False)
    lines: tuple[str, ...] = field(compare=False, repr=False)

    @property
    def line(self) -> int:
        return self.yaml.start.line

    def line_of(self, path: Path_) -> int:
        """Line of the value at `path` (or its nearest ancestor), for annotations."""
        return self.yaml.pos(path).line


@dataclass(frozen=True)
class SpecSet:
    """Every validated document of a spec tree, by kind and name, and the loaded datasets."""

    root: Path
    files: tuple[str, ...]
    models: dict[str, Located[ModelDoc]]
    prompts: dict[str, Located[PromptDoc]]
    datasets: dict[str, Located[DatasetDoc]]
    graders: dict[str, Located[GraderDoc]]
    evals: dict[str, Located[EvalDoc]]
    finetunes: dict[str, Located[FineTuneDoc]]
    data: dict[str, LoadedDataset]
    invalid: frozenset[tuple[str, str]] = frozenset()
    """(kind, name) of documents that failed validation (only non-empty while loading fails)."""
    incomplete: bool = False
    """Some document could not be identified, so a reference to an unknown name may point into it."""

    def counts(self) -> dict[str, int]:
        """Number of documents per kind, in registry order."""
        by_kind: dict[str, dict[str, Any]] = {
            "Model": self.models,
            "Prompt": self.prompts,
            "Dataset": self.datasets,
            "Grader": self.graders,
            "Eval": self.evals,
            "FineTune": self.finetunes,
        }
        return {k: len(v) for k, v in by_kind.items()}


def display_path(path: Path) -> str:
    """`path` relative to the working directory when inside it or inside the project the working directory is
    in (`../specs/x.yaml` from a subfolder, as git shows it), else absolute."""
    try:
        resolved = path.resolve()
        if resolved.is_relative_to(Path.cwd().resolve()):
            return os.path.relpath(path)
        project = find_project()
        return os.path.relpath(resolved) if project is not None and resolved.is_relative_to(project) else str(path)
    except ValueError:  # pragma: no cover - different drives on Windows
        return str(path)


def find_root(path: Path) -> Path:
    """The project root: the nearest ancestor holding `.git`; else the project the working directory is in
    (runner.project) when `path` is inside it; else the working directory when `path` is inside it; else the
    folder given. Datasets and grader files must stay inside it."""
    start = path.resolve() if path.is_dir() else path.resolve().parent
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    project = find_project()
    if project is not None and start.is_relative_to(project):
        return project  # run from a subfolder of the project, e.g. specs/triage/
    cwd = Path.cwd().resolve()
    return cwd if start.is_relative_to(cwd) else start


def spec_files(paths: Sequence[Path]) -> list[Path]:
    """Every YAML file named or found (recursively, skipping hidden folders) under `paths`, sorted."""
    found: list[Path] = []
    for p in paths:
        if p.is_file():
            found.append(p)
        elif p.is_dir():
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                found.extend(Path(dirpath) / f for f in sorted(filenames) if f.endswith(SPEC_SUFFIXES))
        else:
            raise UsageError(f"{p}: no such file or folder; pass a spec folder such as specs/")
    return sorted(dict.fromkeys(found))


@cache
def kind_schema(kind: str) -> dict[str, Any]:
    """The JSON schema of one kind's document (cached), used for 'allowed keys' hints."""
    return KINDS[kind].model_json_schema(by_alias=True)


class _Collector:
    """Accumulates diagnostics and validated documents while a tree loads."""

    def __init__(self) -> None:
        self.diags: list[Diagnostic] = []
        self.docs: dict[str, dict[str, Located[Any]]] = {k: {} for k in KINDS}
        self.invalid: set[tuple[str, str]] = set()
        """(kind, name) of documents that failed validation: references to them are not errors again."""
        self.incomplete = False
        """Some document could not even be identified (bad YAML, unknown kind): unknown names are not errors."""

    def at(
        self,
        shown: str,
        lines: Sequence[str],
        ydoc: YamlDoc,
        path: Path_,
        message: str,
        *,
        at_key: bool = False,
    ) -> Diagnostic:
        data = ydoc.data if isinstance(ydoc.data, dict) else {}
        kind = str(data.get("kind")) if isinstance(data.get("kind"), str) else ""
        meta = data.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) and isinstance(meta.get("name"), str) else None
        pos = ydoc.key_pos(path) if at_key else ydoc.pos(path)
        where = breadcrumb(kind, name, data, path)
        return Diagnostic(shown, pos.line, pos.col, where, message, snippet(lines, pos))

    def mark_invalid(self, data: dict[str, Any]) -> None:
        """Remember a broken document so references to it are not reported a second time."""
        kind, meta = data.get("kind"), data.get("metadata")
        if isinstance(kind, str) and kind in KINDS and isinstance(meta, dict) and isinstance(meta.get("name"), str):
            self.invalid.add((kind, meta["name"]))
        else:
            self.incomplete = True

    def add_document(self, file: Path, shown: str, lines: tuple[str, ...], ydoc: YamlDoc) -> None:
        data = ydoc.data
        if not isinstance(data, dict):
            self.diags.append(
                self.at(
                    shown,
                    lines,
                    ydoc,
                    (),
                    "a spec document must be a mapping with apiVersion, kind, metadata and spec",
                )
            )
            return
        for path, pos, first in ydoc.duplicates:
            d = self.at(
                shown,
                lines,
                ydoc,
                path,
                f"duplicate key '{path[-1]}' (first at line {first.line}); remove one",
                at_key=True,
            )
            self.diags.append(Diagnostic(d.file, pos.line, pos.col, d.where, d.message, snippet(lines, pos)))
        version = data.get("apiVersion")
        if version != API_VERSION:
            msg = (
                f"missing apiVersion; add `apiVersion: {API_VERSION}`"
                if version is None
                else f"unsupported apiVersion {version!r}; this Flywheel reads {API_VERSION}: "
                "upgrade Flywheel or set `apiVersion: flywheel/v1`"
            )
            self.diags.append(self.at(shown, lines, ydoc, ("apiVersion",) if version is not None else (), msg))
            self.mark_invalid(data)
            return
        kind = data.get("kind")
        if kind not in KINDS:
            hint = did_you_mean(str(kind), KINDS) if isinstance(kind, str) else ""
            msg = (
                f"unknown kind {kind!r}{hint} (kinds: {', '.join(KINDS)})"
                if kind is not None
                else f"missing kind; add `kind:` (one of {', '.join(KINDS)})"
            )
            self.diags.append(self.at(shown, lines, ydoc, ("kind",) if kind is not None else (), msg))
            self.mark_invalid(data)
            return
        try:
            doc: Document = KINDS[kind].model_validate(data)
        except ValidationError as exc:
            self.mark_invalid(data)
            for problem in field_problems(exc, data, kind_schema(kind)):
                self.diags.append(self.at(shown, lines, ydoc, problem.path, problem.message, at_key=problem.at_key))
            return
        if ydoc.duplicates:
            self.mark_invalid(data)
            return
        name = doc.metadata.name
        seen = self.docs[kind].get(name)
        if seen is not None:
            self.diags.append(
                self.at(
                    shown,
                    lines,
                    ydoc,
                    ("metadata", "name"),
                    f"duplicate {kind} name '{name}' (first defined at {seen.shown}:{seen.line}); rename one",
                )
            )
            return
        self.docs[kind][name] = Located(doc, file, shown, ydoc, lines)


def load_specs(paths: Iterable[Path | str], root: Path | None = None) -> SpecSet:
    """Load, validate and cross-check every spec under `paths`; raise SpecError listing every problem."""
    from runner.specs.checks import check_spec_set  # noqa: PLC0415 - checks imports this module

    path_list = [Path(p) for p in paths] or [Path("specs")]
    files = spec_files(path_list)
    project_root = (root or find_root(path_list[0])).resolve()
    col = _Collector()
    if not files:
        raise UsageError(f"no spec files (*.yaml, *.yml) under {', '.join(map(str, path_list))}")
    shown_files = []
    for file in files:
        shown = display_path(file)
        shown_files.append(shown)
        text, problem = read_text(file, shown, MAX_SPEC_BYTES, "a spec file")
        if problem is not None:
            col.diags.append(problem)
            col.incomplete = True
            continue
        lines = tuple(text.splitlines())
        try:
            ydocs = load_yaml_documents(text)
        except YamlSyntaxError as exc:
            col.diags.append(Diagnostic(shown, exc.pos.line, exc.pos.col, "", exc.message, snippet(lines, exc.pos)))
            col.incomplete = True
            continue
        for ydoc in ydocs:
            col.add_document(file, shown, lines, ydoc)
    specs = SpecSet(
        root=project_root,
        files=tuple(shown_files),
        models=col.docs["Model"],
        prompts=col.docs["Prompt"],
        datasets=col.docs["Dataset"],
        graders=col.docs["Grader"],
        evals=col.docs["Eval"],
        finetunes=col.docs["FineTune"],
        data={},
        invalid=frozenset(col.invalid),
        incomplete=col.incomplete,
    )
    col.diags.extend(check_spec_set(specs, col.at))
    if col.diags:
        raise SpecError(col.diags)
    return specs


def read_text(path: Path, shown: str, limit: int, what: str) -> tuple[str, Diagnostic | None]:
    """The UTF-8 text of `path`, or a diagnostic at the line where it passes `limit` bytes or where its first
    byte that is not UTF-8 is."""
    with path.open("rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        line = data.count(b"\n", 0, limit) + 1
        message = f"{what} must be at most {limit // (1024 * 1024)} MiB; this one is larger (from this line on)"
        return "", Diagnostic(shown, line, None, "", f"{message}; split it, or move data into a dataset")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = data[exc.start : exc.start + 1].hex()
        return "", Diagnostic(
            shown, line, column, "", f"not UTF-8 text (byte 0x{byte}: {exc.reason}); save it as UTF-8"
        )


def reload_specs(specs: SpecSet) -> SpecSet:
    """The same spec files loaded again (after Flywheel itself edited them, e.g. moved an alias)."""
    return load_specs([Path(f) for f in specs.files], root=specs.root)
