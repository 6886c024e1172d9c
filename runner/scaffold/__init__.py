"""`flywheel init`: the files a new project starts from, planned purely and then written without overwriting.

`plan_init` says, for every file, whether it will be created, is already there as Flywheel would write it, or
is there with other content (a conflict). `write_init` refuses on any conflict before writing anything, so
running `init` twice is a no-op and never clobbers a user's file. `.gitignore` is the one file added to, never
replaced: the `.flywheel/` entry is appended when missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from runner import __version__
from runner.errors import UsageError
from runner.fsutil import atomic_write_text

TEMPLATES = resources.files("runner.scaffold") / "templates"
PROVIDERS = ("local", "openai")
GITIGNORE_ENTRY = ".flywheel/"
ACTION_REPO = "flywheel-evals/flywheel"
"""The GitHub repository of Flywheel's action."""
ACTION_REF = f"{ACTION_REPO}@v{__version__.split('.')[0]}"
"""The action the scaffolded workflows use (`--action` overrides it): at this release's moving major tag, so
the workflows keep getting fixes within the major version (RELEASING.md)."""

Status = Literal["create", "unchanged", "conflict", "append"]


@dataclass(frozen=True)
class Planned:
    """One file `init` writes: where, what, and what is there now."""

    path: str
    """Relative to the project folder, with forward slashes."""
    content: str
    status: Status


def examples() -> tuple[str, ...]:
    """Names accepted by `--example`."""
    return tuple(sorted(p.name for p in (TEMPLATES / "examples").iterdir() if p.is_dir()))


def _template(*parts: str) -> str:
    return (TEMPLATES.joinpath(*parts)).read_text(encoding="utf-8")


def desired_files(example: str, provider: str, action: str) -> dict[str, str]:
    """Every file `init` would write (path -> content), `.gitignore` aside."""
    if example not in examples():
        raise UsageError(f"unknown example {example!r}; choose one of: {', '.join(examples())}")
    if provider not in PROVIDERS:
        raise UsageError(f"unknown provider {provider!r}; choose one of: {', '.join(PROVIDERS)}")
    files = {"specs/models.yaml": _template("models", f"{provider}.yaml"), "specs/README.md": _template("README.md")}
    folder = TEMPLATES / "examples" / example
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        files[f"specs/{example}/{entry.name}"] = entry.read_text(encoding="utf-8")
    for name in ("flywheel-pr.yml", "flywheel-main.yml"):
        files[f".github/workflows/{name}"] = _template("workflows", name).replace("__ACTION__", action)
    return files


def _ignored(gitignore: str) -> bool:
    entries = {line.strip() for line in gitignore.splitlines()}
    return bool(entries & {".flywheel", ".flywheel/", "/.flywheel", "/.flywheel/"})


def plan_init(project: Path, example: str, provider: str, action: str = ACTION_REF) -> list[Planned]:
    """What `init` would do in `project`; reads files, writes nothing."""
    planned: list[Planned] = []
    for rel, content in desired_files(example, provider, action).items():
        path = project / rel
        if not path.exists():
            status: Status = "create"
        elif path.is_file() and path.read_text(encoding="utf-8", errors="replace") == content:
            status = "unchanged"
        else:
            status = "conflict"
        planned.append(Planned(rel, content, status))
    gitignore = project / ".gitignore"
    current = gitignore.read_text(encoding="utf-8", errors="replace") if gitignore.is_file() else ""
    if _ignored(current):
        planned.append(Planned(".gitignore", current, "unchanged"))
    else:
        sep = "" if not current or current.endswith("\n") else "\n"
        planned.append(Planned(".gitignore", f"{current}{sep}{GITIGNORE_ENTRY}\n", "append" if current else "create"))
    return planned


def write_init(project: Path, planned: list[Planned]) -> None:
    """Write the planned files; refuse (writing nothing) when any would overwrite different content."""
    conflicts = [p.path for p in planned if p.status == "conflict"]
    if conflicts:
        raise UsageError(
            "flywheel init would overwrite "
            + ", ".join(conflicts)
            + "; nothing was written. Move or delete "
            + ("it" if len(conflicts) == 1 else "them")
            + " first, or run init in another folder"
        )
    for p in planned:
        if p.status in ("create", "append"):
            path = project / p.path
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, p.content)
