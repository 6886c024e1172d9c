"""The HTML report in a real browser: filter to failing samples, expand one and read its judge's reason, read a
gate's flipped items side by side; a screenshot of each goes under the test's output."""

from __future__ import annotations

from pathlib import Path

from runner.cli import main
from runner.testing.fake_openai import FakeOpenAI
from tests.conftest import git
from tests.report.browser import chromium_page, open_report, screenshot


def test_filter_failing_expand_a_row_and_read_the_judge_reason(report_repo: Path, tmp_path: Path) -> None:
    assert main(["run", "words"]) == 0
    html = tmp_path / "out" / "report.html"
    assert main(["report", "--html", str(html)]) == 0
    with chromium_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        open_report(page, html)
        summary = page.locator("table.summary-table tbody tr")
        assert summary.count() == 4  # 2 models x 2 metrics
        assert page.locator("#count").inner_text() == "48 of 48 samples"
        page.select_option("#filter", "failing")
        assert page.locator("#count").inner_text() == "12 of 48 samples"  # fake misses 12 words, better none
        page.select_option("#model", "better")
        assert page.locator("#count").inner_text() == "0 of 48 samples"
        page.select_option("#model", "")
        page.fill("#search", "banana")
        assert page.locator("#count").inner_text() == "1 of 48 samples"
        page.locator("tr.sample[data-id='w01']").click()
        detail = page.locator("tr.detail")
        assert detail.locator("td.reason").nth(1).inner_text() == "no: The answer 'wrong' is not 'banana'."
        assert detail.locator("pre.reference").inner_text() == "banana"
        assert detail.locator("pre.output").inner_text() == "wrong"
        assert "Repeat the word." in detail.inner_text()
        shot = screenshot(page, tmp_path, "report-failing.png")
        comparison = page.locator("table.comparison-table tbody tr").first.inner_text()
        assert comparison.split("\t")[:4] == ["words", "accuracy", "fake", "better"]
        assert errors == []
    assert shot.stat().st_size > 10_000


def test_pagination_keeps_fifty_rows_a_page(report_repo: Path, tmp_path: Path) -> None:
    assert main(["run", "words"]) == 0
    html = tmp_path / "report.html"
    assert main(["report", "--html", str(html)]) == 0
    with chromium_page() as page:
        open_report(page, html)
        page.select_option("#eval", "0")
        assert page.locator("tr.sample").count() == 48
        assert page.locator("#page").inner_text() == "page 1 of 1"


def test_a_gate_report_shows_flipped_items_base_and_head_side_by_side(report_repo: Path, tmp_path: Path) -> None:
    (report_repo / ".gitignore").write_text(".flywheel/\n")
    git(report_repo, "init", "-q", "-b", "main")
    git(report_repo, "config", "user.email", "t@example.invalid")
    git(report_repo, "config", "user.name", "t")
    git(report_repo, "add", "-A")
    git(report_repo, "commit", "-qm", "main")
    git(report_repo, "checkout", "-q", "-b", "pr")
    spec = report_repo / "specs/eval.yaml"
    text = spec.read_text().replace("content: Repeat the word.", "content: Never repeat the word.")
    spec.write_text(text.replace("models: [fake, better]", "models: [fake]"))
    assert main(["gate", "--base", "main"]) == 3
    html = tmp_path / "gate.html"
    assert main(["report", "--gate", "--html", str(html)]) == 0
    with chromium_page() as page:
        open_report(page, html)
        assert page.locator(".verdict").inner_text().startswith("Verdict: FAIL (base main @ ")
        head = page.locator("table.gate-metrics thead").first.inner_text().split("\t")
        assert head[:8] == [
            "metric",
            "verdict",
            "base",
            "head",
            "effect",
            "interval of the effect",
            "p (drop, Holm)",
            "n",
        ]
        row = page.locator("table.gate-metrics tbody tr").first.inner_text().split("\t")
        assert row[:5] == ["accuracy", "FAIL", "0.500", "0.000", "-0.500"]
        flips = page.locator("table.flips tbody tr")
        assert flips.count() == 12  # every word the base got right
        first = flips.first.locator("td")
        assert [first.nth(i).inner_text() for i in range(4)] == ["w00", "accuracy", "apple", "word: apple"]
        assert first.nth(4).inner_text().split("\n")[:2] == ["pass", "apple"]
        assert first.nth(5).inner_text().split("\n")[:2] == ["fail", "wrong"]
        page.select_option("#filter", "flipped")
        assert page.locator("#count").inner_text() == "12 of 24 samples"
        assert screenshot(page, tmp_path, "gate-report.png").stat().st_size > 10_000


def test_hostile_model_output_is_shown_as_text_never_run(report_repo: Path, server: FakeOpenAI, tmp_path: Path) -> None:
    attack = "</script><img src=x onerror=\"document.body.dataset.pwned='1'\"><script>document.title='pwned'</script>"
    server.responder = lambda body: (
        '{"reasoning": "' + attack.replace('"', "'") + '", "label": "no"}' if "response_format" in body else attack
    )
    assert main(["run", "words", "--model", "fake", "--limit", "2"]) == 0
    html = tmp_path / "report.html"
    assert main(["report", "--html", str(html)]) == 0
    with chromium_page() as page:
        open_report(page, html)
        page.locator("tr.sample[data-id='w00']").click()
        assert page.locator("tr.detail pre.output").inner_text() == attack
        assert page.evaluate("document.body.dataset.pwned") is None
        assert page.title() == "Flywheel results"
        assert page.locator("img").count() == 0
