"""Idempotent GitHub REST writes for the workflows: one PR comment and one open issue, found by a marker.

A workflow re-runs on every push, so both writes are upserts: the comment (or issue) carrying `marker` in its
body is edited in place, and a new one is created only when none exists. Only a comment the bot itself wrote is
ever edited: anyone can post a comment carrying the marker, and it must neither hijack nor block the report.
The token is sent in one header and never appears in an error message. Plain `urllib`: two endpoints do not
justify another HTTP client.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Literal

from runner.errors import FlywheelError

MAX_BODY = 65_536
"""GitHub rejects comment and issue bodies longer than this many characters."""


class GitHubError(FlywheelError):
    """A GitHub API call failed (bad token, no permission, unknown repository)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Upserted:
    """What an upsert did: `created` or `updated`, and the id and URL of the comment or issue."""

    action: Literal["created", "updated"]
    id: int
    url: str
    ignored: tuple[str, ...] = ()
    """Authors of other comments that carried the marker (left untouched)."""


class GitHub:
    """A minimal GitHub REST client: `api` is `GITHUB_API_URL`, `repo` is `owner/name`."""

    def __init__(self, api: str, repo: str, token: str, timeout_s: float = 30.0) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo):
            raise GitHubError(f"GITHUB_REPOSITORY {repo!r} is not owner/name")
        self.api = api.rstrip("/")
        self.repo = repo
        self._token = token
        self.timeout_s = timeout_s

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[Any, dict[str, str]]:
        url = path if path.startswith(("http://", "https://")) else f"{self.api}{path}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        request.add_header("Authorization", f"Bearer {self._token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                payload = response.read()
                headers = {k.lower(): v for k, v in response.headers.items()}
        except urllib.error.HTTPError as exc:
            detail = _message(exc.read())
            raise GitHubError(f"GitHub {method} {path}: HTTP {exc.code}{detail}", exc.code) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GitHubError(f"GitHub {method} {path}: cannot connect ({reason})") from None
        return (json.loads(payload) if payload else None), headers

    def _pages(self, path: str) -> list[dict[str, Any]]:
        """Every element of a paginated list (follows the `Link: rel="next"` header)."""
        out: list[dict[str, Any]] = []
        url: str | None = path
        while url:
            page, headers = self._call("GET", url)
            out.extend(page or [])
            match = re.search(r'<([^>]+)>;\s*rel="next"', headers.get("link", ""))
            # Follow only links to the same API: the token must never travel to another host.
            url = match.group(1) if match and match.group(1).startswith(self.api + "/") else None
        return out

    def upsert_comment(self, number: int, body: str, marker: str, author: str) -> Upserted:
        """Edit the comment of PR/issue `number` that `author` (the bot) wrote and that carries `marker`, or
        create it; comments by anyone else are never edited, whatever they carry."""
        body = _with_marker(body, marker)
        ignored: list[str] = []
        for comment in self._pages(f"/repos/{self.repo}/issues/{number}/comments?per_page=100"):
            if marker not in (comment.get("body") or ""):
                continue
            login = str((comment.get("user") or {}).get("login", ""))
            if login != author:
                ignored.append(login)
                continue
            data, _ = self._call("PATCH", f"/repos/{self.repo}/issues/comments/{comment['id']}", {"body": body})
            return Upserted("updated", int(data["id"]), str(data.get("html_url", "")), tuple(ignored))
        data, _ = self._call("POST", f"/repos/{self.repo}/issues/{number}/comments", {"body": body})
        return Upserted("created", int(data["id"]), str(data.get("html_url", "")), tuple(ignored))

    def upsert_issue(self, title: str, body: str, marker: str, label: str) -> Upserted:
        """Edit the open issue labelled `label` that carries `marker`, or open one."""
        body = _with_marker(body, marker)
        for issue in self._pages(
            f"/repos/{self.repo}/issues?state=open&labels={urllib.parse.quote(label, safe='')}&per_page=100"
        ):
            if marker in (issue.get("body") or "") and "pull_request" not in issue:
                data, _ = self._call(
                    "PATCH", f"/repos/{self.repo}/issues/{issue['number']}", {"title": title, "body": body}
                )
                return Upserted("updated", int(data["number"]), str(data.get("html_url", "")))
        data, _ = self._call("POST", f"/repos/{self.repo}/issues", {"title": title, "body": body, "labels": [label]})
        return Upserted("created", int(data["number"]), str(data.get("html_url", "")))


def _with_marker(body: str, marker: str) -> str:
    if marker not in body:
        body = f"{marker}\n{body}"
    if len(body) > MAX_BODY:
        cut = "\n\n_Truncated: the full report is in the job summary and artifacts._\n"
        body = body[: MAX_BODY - len(cut)] + cut
    return body


def _message(payload: bytes) -> str:
    try:
        data = json.loads(payload)
    except ValueError:
        return ""
    return f" ({data['message']})" if isinstance(data, dict) and isinstance(data.get("message"), str) else ""
