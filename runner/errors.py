"""One error tree for Flywheel and the exit-code contract of the whole CLI.

Every error a user can cause is a `FlywheelError`: the CLI prints its text without a traceback and exits with
its `exit_code`. Anything else is a bug: the CLI writes the traceback to a log file and exits `INTERNAL`.
The contract is documented in docs/exit-codes.md and tested in tests/test_errors.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes shared by every `flywheel` command."""

    OK = 0
    """Success (for `plan --detailed-exitcode`: success and nothing to do)."""
    ERROR = 1
    """A user error: invalid specs or input, a provider failure, a refused budget, a stale plan."""
    CHANGES = 2
    """`plan --detailed-exitcode` only: success, and there are changes to apply."""
    REGRESSION = 3
    """`gate`: a significant regression, a floor broken, an unapproved change to the gate's inputs, or a cell
    the gate could not evaluate (docs/trust.md)."""
    INCONCLUSIVE = 4
    """`gate`: underpowered comparison and the Eval's policy says `on_inconclusive: fail`."""
    FAILED = 5
    """`run` / `apply`: some cells failed after their retries (more than the Eval's `max_error_rate`); the
    results were written with those cells as failed (missing, never scored), and the next run retries them."""
    INTERNAL = 70
    """A bug in Flywheel (EX_SOFTWARE): the traceback went to the log file the message names."""
    INTERRUPTED = 130
    """Interrupted by Ctrl-C (SIGINT), SIGTERM or SIGHUP."""


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a user's file, located as precisely as the input allows."""

    file: str
    line: int | None
    col: int | None
    where: str
    """Breadcrumb such as `Eval/triage -> spec -> metrics -> accuracy -> grader`; empty when not in a spec."""
    message: str
    """What is wrong, ending with the fix where one is known."""
    snippet: tuple[str, ...] = ()

    def headline(self) -> str:
        """The one-line form `file:line:col: where: message`."""
        pos = self.file
        if self.line is not None:
            pos += f":{self.line}"
            if self.col is not None:
                pos += f":{self.col}"
        return f"{pos}: {self.where}: {self.message}" if self.where else f"{pos}: {self.message}"

    def render(self) -> str:
        """Headline plus the snippet lines, ready to print."""
        return "\n".join((self.headline(), *self.snippet))

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line or 0, self.col or 0, self.message)


class FlywheelError(Exception):
    """Base of every error a user can cause. Printed without a traceback."""

    exit_code: ExitCode = ExitCode.ERROR

    def render(self) -> str:
        return f"error: {self}"


class UsageError(FlywheelError):
    """Bad command-line arguments or a missing file named on the command line."""


class SpecError(FlywheelError):
    """The spec tree is invalid; carries every problem found, not only the first."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__(f"{len(self.diagnostics)} problem(s) in specs")

    def render(self) -> str:
        files = {d.file for d in self.diagnostics}
        body = "\n".join(d.render() for d in self.diagnostics)
        n = len(self.diagnostics)
        plural = "s" if len(files) != 1 else ""
        return f"{body}\nflywheel: {n} error{'s' if n != 1 else ''} in {len(files)} file{plural}"


class ProviderError(FlywheelError):
    """A model endpoint failed for good: bad key, bad request, or retries exhausted."""


class BudgetError(FlywheelError):
    """A run would cost, or has cost, more than its Eval's budget."""


class ReplayMissError(FlywheelError):
    """`--replay` found no recorded response for a request; nothing was sent."""


class DocumentError(FlywheelError):
    """A result document or baseline cannot be read: damaged, foreign, or written by another Flywheel version."""


class FinetuneError(FlywheelError):
    """A fine-tuning job cannot be started or failed: invalid training data, a refused backend, a failed job."""


class TrainingDataError(FinetuneError):
    """Training data breaks the method's format or rules; carries every problem found, each with file and line."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__("\n".join(d.headline() for d in self.diagnostics))

    def render(self) -> str:
        body = "\n".join(d.render() for d in self.diagnostics)
        n = len(self.diagnostics)
        return f"{body}\nflywheel: {n} problem{'s' if n != 1 else ''} in the training data; nothing was trained"
