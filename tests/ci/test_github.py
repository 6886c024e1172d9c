"""`flywheel ci comment|issue` against a fake GitHub REST API: one comment per PR, edited in place."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from runner.cli import main
from tests.conftest import json_object

TOKEN = "ghs_SECRETtoken1234567890"


class FakeGitHub:
    """Issues, their comments and a pull request #7 in `acme/app`; 3 comments per page to exercise paging."""

    def __init__(self) -> None:
        self.comments: list[dict[str, Any]] = [
            {"id": i, "body": f"unrelated comment {i}", "issue": 7, "user": {"login": "someone"}} for i in range(1, 6)
        ]
        self.issues: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str]] = []
        self.auth: set[str] = set()
        self.readonly = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: Any, link: str | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if link:
                    self.send_header("Link", link)
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, Any]:
                return json_object(self.rfile.read(int(self.headers["Content-Length"])).decode())

            def _handle(self) -> None:
                fake.calls.append((self.command, self.path))
                fake.auth.add(self.headers.get("Authorization", ""))
                if self.command != "GET" and fake.readonly:
                    return self._send(403, {"message": "Resource not accessible by integration"})
                path, _, query = self.path.partition("?")
                if path == "/repos/acme/app/issues/7/comments" and self.command == "GET":
                    page = int(dict(p.split("=") for p in query.split("&")).get("page", "1"))
                    mine = [c for c in fake.comments if c["issue"] == 7]
                    chunk = mine[(page - 1) * 3 : page * 3]
                    more = len(mine) > page * 3
                    link = f'<{fake.url}/repos/acme/app/issues/7/comments?per_page=3&page={page + 1}>; rel="next"'
                    return self._send(200, chunk, link if more else None)
                if path == "/repos/acme/app/issues/7/comments" and self.command == "POST":
                    comment = {
                        "id": 100 + len(fake.comments),
                        "body": self._body()["body"],
                        "issue": 7,
                        "user": {"login": "github-actions[bot]"},
                    }
                    fake.comments.append(comment)
                    return self._send(201, comment | {"html_url": f"https://github.test/c/{comment['id']}"})
                if path.startswith("/repos/acme/app/issues/comments/") and self.command == "PATCH":
                    cid = int(path.rsplit("/", 1)[1])
                    comment = next(c for c in fake.comments if c["id"] == cid)
                    comment["body"] = self._body()["body"]
                    return self._send(200, comment)
                if path == "/repos/acme/app/issues" and self.command == "GET":
                    return self._send(200, [i for i in fake.issues if i["state"] == "open"])
                if path == "/repos/acme/app/issues" and self.command == "POST":
                    issue = {"number": 50 + len(fake.issues), "state": "open", **self._body()}
                    fake.issues.append(issue)
                    return self._send(201, issue)
                if path.startswith("/repos/acme/app/issues/") and self.command == "PATCH":
                    number = int(path.rsplit("/", 1)[1])
                    issue = next(i for i in fake.issues if i["number"] == number)
                    issue.update(self._body())
                    return self._send(200, issue)
                return self._send(404, {"message": "Not Found"})

            do_GET = do_POST = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    fake.thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, github: FakeGitHub, fork: bool = False) -> None:
    event = {
        "pull_request": {
            "number": 7,
            "head": {"repo": {"full_name": "someone/app" if fork else "acme/app", "fork": fork}},
            "base": {"repo": {"full_name": "acme/app"}},
        }
    }
    (tmp_path / "event.json").write_text(json.dumps(event))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(tmp_path / "event.json"))
    monkeypatch.setenv("GITHUB_API_URL", github.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/app")
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)


def test_comment_is_created_once_then_edited_in_place(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, tmp_path, github)
    report = tmp_path / "report.md"
    report.write_text("<!-- flywheel-gate -->\n## Flywheel gate: **FAIL**\n")
    assert main(["ci", "comment", "--body-file", str(report)]) == 0
    assert capsys.readouterr().out == "created comment 105 on #7 https://github.test/c/105\n"
    report.write_text("<!-- flywheel-gate -->\n## Flywheel gate: **PASS**\n")
    assert main(["ci", "comment", "--body-file", str(report)]) == 0
    assert capsys.readouterr().out.startswith("updated comment 105 on #7")
    ours = [c for c in github.comments if "flywheel-gate" in c["body"]]
    assert [c["body"] for c in ours] == ["<!-- flywheel-gate -->\n## Flywheel gate: **PASS**\n"]
    assert ("GET", "/repos/acme/app/issues/7/comments?per_page=3&page=2") in github.calls  # followed the Link
    assert github.auth == {f"Bearer {TOKEN}"}


@pytest.mark.parametrize("verdict", ["FAIL", "PASS"])
def test_a_comment_spoofing_the_marker_is_neither_edited_nor_blocking(
    github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    verdict: str,
) -> None:
    _env(monkeypatch, tmp_path, github)
    spoof = {
        "id": 6,
        "body": "<!-- flywheel-gate -->\n## Flywheel gate: **PASS**\n",
        "issue": 7,
        "user": {"login": "mallory"},
    }
    github.comments.append(dict(spoof))
    report = tmp_path / "report.md"
    report.write_text(f"<!-- flywheel-gate -->\n## Flywheel gate: **{verdict}**\n")
    note = (
        "note: left 1 other comment(s) carrying the Flywheel marker untouched (by @mallory): only comments by "
        "github-actions[bot] are edited\n"
    )
    assert main(["ci", "comment", "--body-file", str(report)]) == 0
    assert capsys.readouterr().out == "created comment 106 on #7 https://github.test/c/106\n" + note
    assert main(["ci", "comment", "--body-file", str(report)]) == 0
    assert capsys.readouterr().out == "updated comment 106 on #7\n" + note
    assert [c for c in github.comments if c["id"] == 6] == [spoof]
    ours = [c["body"] for c in github.comments if c["user"]["login"] == "github-actions[bot]"]
    assert ours == [f"<!-- flywheel-gate -->\n## Flywheel gate: **{verdict}**\n"]


def test_fork_pr_with_a_read_only_token_warns_and_succeeds(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, tmp_path, github, fork=True)
    github.readonly = True
    report = tmp_path / "report.md"
    report.write_text("## Flywheel gate: **FAIL**\n")
    assert main(["ci", "comment", "--body-file", str(report)]) == 0
    assert capsys.readouterr().err == (
        "warning: this pull request comes from a fork, whose token cannot comment; the report is in the job summary\n"
    )


def test_forbidden_on_a_same_repo_pr_is_an_error_without_the_token(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, tmp_path, github)
    github.readonly = True
    report = tmp_path / "report.md"
    report.write_text("x\n")
    assert main(["ci", "comment", "--body-file", str(report)]) == 1
    err = capsys.readouterr().err
    assert err == (
        "error: GitHub POST /repos/acme/app/issues/7/comments: HTTP 403 (Resource not accessible by integration)\n"
    )
    assert TOKEN not in err


def test_drift_issue_is_opened_once_then_updated(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, tmp_path, github)
    report = tmp_path / "report.md"
    report.write_text("words dropped\n")
    args = ["ci", "issue", "--title", "Flywheel: drift", "--body-file", str(report)]
    assert main(args) == 0
    report.write_text("words dropped again\n")
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("updated issue #50")
    assert [(i["number"], i["labels"], i["body"]) for i in github.issues] == [
        (50, ["flywheel-drift"], "<!-- flywheel-drift -->\nwords dropped again\n")
    ]


def test_a_label_with_spaces_is_escaped_in_the_query(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(monkeypatch, tmp_path, github)
    report = tmp_path / "report.md"
    report.write_text("moved\n")
    assert main(["ci", "issue", "--title", "t", "--body-file", str(report), "--label", "model drift&x"]) == 0
    assert ("GET", "/repos/acme/app/issues?state=open&labels=model%20drift%26x&per_page=100") in github.calls
    assert github.issues[0]["labels"] == ["model drift&x"]


def test_missing_environment_is_a_clean_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for var in ("GITHUB_TOKEN", "GITHUB_REPOSITORY"):
        monkeypatch.delenv(var, raising=False)
    report = tmp_path / "report.md"
    report.write_text("x\n")
    assert main(["ci", "issue", "--title", "t", "--body-file", str(report)]) == 1
    assert capsys.readouterr().err == (
        "error: GITHUB_TOKEN and GITHUB_REPOSITORY must be set (in a workflow: env: GITHUB_TOKEN: ${{ github.token }})\n"
    )
