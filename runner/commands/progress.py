"""The progress bar every long command (run, apply, gate) shows on stderr while cells complete."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} items/s" if speed else "- items/s")


@dataclass
class ProgressBar:
    """The engine's `ProgressSink` on a console: a transient bar with items/s, spend so far and time left."""

    console: Console
    progress: Progress | None = None
    task: TaskID | None = None
    cost: list[float] = field(default_factory=lambda: [0.0])

    def begin(self, label: str, total: int, done: int) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            _RateColumn(),
            TextColumn("${task.fields[cost]:.4f}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task(label, total=total, completed=done, cost=0.0)

    def advance(self, spent_usd: float) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, advance=1, cost=spent_usd)

    def end(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
