"""`flywheel report` through the CLI: one self-contained HTML file, a CSV for spreadsheets, clear errors."""

from __future__ import annotations

import base64
import csv
import gzip
import json
import re
import sys
import time
import webbrowser
from pathlib import Path
from typing import Any

import pytest

from runner.cli import main
from runner.documents.io import read_result, write_document
from runner.documents.results import ItemRecord, Score, Tokens
from runner.testing.fake_openai import FakeOpenAI
from tests.conftest import json_object


def _data(html: Path) -> dict[str, Any]:
    blob = re.search(r'<script id="report-data" type="application/octet-stream">([^<]*)</script>', html.read_text())
    assert blob is not None
    return json_object(gzip.decompress(base64.b64decode(blob.group(1))).decode())


def test_the_html_is_self_contained(report_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "words", "--model", "fake"]) == 0
    capsys.readouterr()
    assert main(["report"]) == 0
    html = report_repo / ".flywheel/report.html"
    assert capsys.readouterr().out == f"wrote {html}\n"
    page = html.read_text()
    assert re.findall(r"""(?:src|href)=["'](?!#)""", page) == []  # nothing loaded from anywhere
    assert "default-src 'none'" in page
    assert "<link" not in page
    data = _data(html)
    assert [s["metric"] for s in data["summary"]] == ["accuracy", "judged"]
    [words] = data["evals"]
    w01 = next(s for s in words["samples"] if s["id"] == "w01")
    assert w01["reasons"] == {"judged": "no: The answer 'wrong' is not 'banana'."}
    assert w01["input"][-1] == {"role": "user", "content": "banana"}


def test_csv_has_one_row_per_sample_and_metric_and_defuses_formulas(
    report_repo: Path, server: FakeOpenAI, tmp_path: Path
) -> None:
    server.responder = lambda body: (
        '{"reasoning": "=HYPERLINK(\\"http://x\\")", "label": "no"}' if "response_format" in body else "=1+1"
    )
    assert main(["run", "words", "--model", "fake", "--limit", "2"]) == 0
    out = tmp_path / "samples.csv"
    assert main(["report", "--csv", str(out)]) == 0
    rows = list(csv.reader(out.read_text().splitlines()))
    assert rows[0] == [
        "eval", "model", "item", "metric", "score", "pass", "reason", "output", "error", "references",
        "latency_s", "prompt_tokens", "completion_tokens", "cost_usd",
    ]  # fmt: skip
    assert len(rows) == 1 + 2 * 2
    first = dict(zip(rows[0], rows[1], strict=True))
    assert (first["item"], first["metric"], first["pass"], first["output"]) == ("w00", "accuracy", "0.0", "'=1+1")
    judged = dict(zip(rows[0], rows[2], strict=True))
    assert judged["reason"] == 'no: =HYPERLINK("http://x")'
    assert first["references"] == "word=apple"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report"], "error: no results under {root}/.flywheel/results; run: flywheel run EVAL (or flywheel apply)\n"),
        (
            ["report", "--gate"],
            "error: no gate report at {root}/.flywheel/gate/report.json; run: flywheel gate --base REF\n",
        ),
        (["report", "nope"], "error: no Eval named 'nope'; Evals: words\n"),
    ],
    ids=["no-results", "no-gate", "unknown-eval"],
)
def test_nothing_to_report_is_a_clear_error(
    report_repo: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    assert capsys.readouterr().err == message.format(root=report_repo)
    assert not (report_repo / ".flywheel/report.html").exists()


def _ten_thousand(repo: Path) -> Path:
    """A result of 10,000 samples (the header of a real run, synthetic items with realistic text)."""
    assert main(["run", "words", "--model", "fake", "--limit", "1"]) == 0
    path = repo / ".flywheel/results/words/fake.json"
    header = read_result(path).header
    items = (
        ItemRecord(
            id=f"t{i:05d}",
            scores={"accuracy": Score(score=float(i % 3 == 0), pass_=float(i % 3 == 0))},
            references={"word": f"word number {i}"},
            output=f"The answer for ticket {i} is queue {'billing' if i % 2 else 'shipping'}; {'x' * (i % 50)}",
            error=None,
            reasons={"accuracy": f"expected word number {i}"},
            repeats=1,
            cost_usd=0.00001,
            latency_s=0.25,
            tokens=Tokens(prompt=120, completion=12),
        )
        for i in range(10_000)
    )
    write_document(path, header.model_copy(update={"n_items": 10_000}), items)
    return path


def test_ten_thousand_samples_stay_a_few_megabytes(report_repo: Path, tmp_path: Path) -> None:
    _ten_thousand(report_repo)
    html = tmp_path / "big.html"
    assert main(["report", "--html", str(html)]) == 0
    assert html.stat().st_size < 3_000_000
    assert len(_data(html)["evals"][0]["samples"]) == 10_000


def test_trends_chart_each_metric_over_commits_with_promotions_marked(report_repo: Path) -> None:
    assert main(["run", "words", "--model", "fake", "--limit", "1"]) == 0
    history = [
        {"commit": f"{i:040x}", "created": f"2026-11-0{i}T10:00:00+00:00", "eval": "words", "model": "fake",
         "model_id": "fake", "run_id": None, "metrics": {"accuracy": {"value": 0.5 + i / 20, "n": 24, "floor_ok": None}}}
        for i in range(1, 6)
    ]  # fmt: skip
    job = {
        "commit": None,
        "data_hash": "d",
        "recipe_hash": "h",
        "training_file_sha256": "s",
        "n_examples": 20,
        "backend": "fake",
        "job_id": "j",
        "base_model": "fake",
        "trained_tokens": None,
        "reason": "r",
    }
    lineage = [
        job | {"recipe": "r", "decision": "promoted", "eval": "words", "model_id": "ft:<script>x</script>",
               "trained_at": "2026-11-03T09:00:00+00:00"},
        job | {"recipe": "r", "decision": "kept", "eval": "words", "model_id": "ft:kept",
               "trained_at": "2026-11-04T09:00:00+00:00"},
    ]  # fmt: skip
    (report_repo / "baselines").mkdir()
    (report_repo / "baselines/history.jsonl").write_text("".join(json.dumps(e) + "\n" for e in history))
    (report_repo / "baselines/lineage.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lineage))
    assert main(["report"]) == 0
    page = (report_repo / ".flywheel/report.html").read_text()
    [svg] = re.findall(r'<svg xmlns="http://www.w3.org/2000/svg" class="trend".*?</svg>', page)
    assert 'aria-label="words · fake"' in svg
    assert len(re.findall(r"<circle ", svg)) == 5
    assert "<title>accuracy 0.750 at 0000000</title>" in svg
    # One promotion, at the first commit after it was trained; the kept challenger is not marked.
    assert svg.count('class="t-promo"') == 1
    assert ">promoted ft:&lt;script&gt;x&lt;/script&gt;</text>" in svg
    assert "ft:kept" not in svg


def test_open_hands_the_report_to_the_users_browser(
    report_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.py"
    browser.write_text(f"import sys\nopen({str(opened)!r}, 'w').write(sys.argv[1])\n")
    monkeypatch.setenv("BROWSER", f"{sys.executable} {browser} %s")  # webbrowser's documented override
    monkeypatch.setattr(webbrowser, "_tryorder", None)  # forget browsers found by an earlier call
    assert main(["run", "words", "--model", "fake", "--limit", "1"]) == 0
    assert main(["report", "--open"]) == 0
    for _ in range(100):
        if opened.exists() and opened.read_text():
            break
        time.sleep(0.05)
    assert opened.read_text() == (report_repo / ".flywheel/report.html").resolve().as_uri()
