"""`flywheel ci comment|issue`: post the gate report as one PR comment, or the drift report as one issue.

Both read the GitHub Actions environment: `GITHUB_TOKEN` (pass `${{ github.token }}`), `GITHUB_REPOSITORY`,
`GITHUB_API_URL` and, for comments, the pull request number from `GITHUB_EVENT_PATH`.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console

from runner.ci.github import GitHub, GitHubError
from runner.errors import ExitCode, UsageError
from runner.gate.report import MARKER

DRIFT_MARKER = "<!-- flywheel-drift -->"
BOT = "github-actions[bot]"
"""Who writes the PR comment with the workflow's `GITHUB_TOKEN`; pass `--author` for another token's user."""


def _client(env: Mapping[str, str]) -> GitHub:
    token = env.get("GITHUB_TOKEN", "")
    repo = env.get("GITHUB_REPOSITORY", "")
    if not token or not repo:
        raise UsageError(
            "GITHUB_TOKEN and GITHUB_REPOSITORY must be set (in a workflow: env: GITHUB_TOKEN: ${{ github.token }})"
        )
    return GitHub(env.get("GITHUB_API_URL") or "https://api.github.com", repo, token)


def _event(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    if not path or not Path(path).is_file():
        return {}
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def _body(path: Path) -> str:
    if not path.is_file():
        raise UsageError(f"{path}: no such file; pass the report the gate wrote (--report-dir)/report.md")
    return path.read_text(encoding="utf-8")


def _is_fork(event: Mapping[str, Any]) -> bool:
    pr = event.get("pull_request") or {}
    head = (pr.get("head") or {}).get("repo") or {}
    base = (pr.get("base") or {}).get("repo") or {}
    return bool(head.get("fork")) or (bool(head) and head.get("full_name") != base.get("full_name"))


def ci_comment(body_file: Path, out: Console, err: Console, author: str = BOT) -> int:
    """Create or edit the pull request's one Flywheel comment (found by its marker and its author)."""
    env = os.environ
    body = _body(body_file)
    event = _event(env)
    number = (event.get("pull_request") or {}).get("number")
    if not isinstance(number, int):
        out.print("not a pull request event: no comment to post", markup=False, highlight=False)
        return ExitCode.OK
    try:
        done = _client(env).upsert_comment(number, body, MARKER, author)
    except GitHubError as exc:
        if exc.status in (403, 404) and _is_fork(event):
            err.print(
                "warning: this pull request comes from a fork, whose token cannot comment; "
                "the report is in the job summary",
                markup=False,
                highlight=False,
            )
            return ExitCode.OK
        raise
    out.print(f"{done.action} comment {done.id} on #{number} {done.url}".rstrip(), markup=False, highlight=False)
    if done.ignored:
        who = ", ".join(f"@{login}" for login in done.ignored)
        out.print(
            f"note: left {len(done.ignored)} other comment(s) carrying the Flywheel marker untouched (by {who}): "
            f"only comments by {author} are edited",
            markup=False,
            highlight=False,
        )
    return ExitCode.OK


def ci_issue(title: str, body_file: Path, label: str, out: Console) -> int:
    """Open, or edit, the one open issue labelled `label` that carries the drift marker."""
    done = _client(os.environ).upsert_issue(title, _body(body_file), DRIFT_MARKER, label)
    out.print(f"{done.action} issue #{done.id} {done.url}".rstrip(), markup=False, highlight=False)
    return ExitCode.OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="ci_command", metavar="ACTION", required=True)
    c = actions.add_parser("comment", help="create or edit the PR's one Flywheel comment from a gate report")
    c.add_argument("--body-file", type=Path, required=True, metavar="FILE", help="the gate's report.md")
    c.add_argument(
        "--author",
        default="github-actions[bot]",
        metavar="LOGIN",
        help="who the token posts as; only a marker comment by this login is edited (default: github-actions[bot])",
    )
    c = actions.add_parser("issue", help="open or edit the one open drift issue")
    c.add_argument("--title", required=True, help="issue title")
    c.add_argument("--body-file", type=Path, required=True, metavar="FILE", help="the report to post")
    c.add_argument("--label", default="flywheel-drift", help="label that identifies the issue (default: %(default)s)")


def handle(args: argparse.Namespace, out: Console, err: Console) -> int:
    if args.ci_command == "comment":
        return ci_comment(args.body_file, out, err, args.author)
    return ci_issue(args.title, args.body_file, args.label, out)
