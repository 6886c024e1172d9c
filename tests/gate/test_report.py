"""Every report form from one hand-built GateReport, compared with golden files in tests/gate/golden/.

Regenerate after an intended change with `FLYWHEEL_UPDATE_GOLDEN=1 pytest tests/gate/test_report.py` and review
the diff like any other change.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from runner.gate import report as fmt
from runner.gate.gate import EvalGate, Flip, GateReport, Informational, NewResult
from runner.gate.inputs import Approval, DatasetDiff
from runner.gate.stats import MetricInput, compare

GOLDEN = Path(__file__).parent / "golden"


def _report() -> GateReport:
    base = [1.0] * 180 + [0.0] * 20
    head = [0.0] * 30 + [1.0] * 150 + [1.0] * 5 + [0.0] * 15
    regressed = compare([MetricInput("accuracy", "pass_rate", "higher_is_better", base, head, 0.02, lower=0.5)], seed=0)
    steady = compare([MetricInput("f1", "mean", "higher_is_better", [0.5, 0.7] * 10, [0.5, 0.7] * 10, 0.02)])
    small = compare([MetricInput("accuracy", "pass_rate", "higher_is_better", [1.0] * 30, [1.0] * 30, 0.1)])
    described = (
        Flip(
            "ticket-000",
            "accuracy",
            1.0,
            0.0,
            "I was charged twice for my order, please refund one",
            "billing",
            "billing",
            "shipping",
        ),
        Flip("ticket-001", "accuracy", 1.0, 0.0, "where is my parcel `| <b>x</b>", "shipping", None, ""),
    )
    flips = described + tuple(Flip(f"ticket-{i:03d}", "accuracy", 1.0, 0.0) for i in range(2, 30))
    flips += (Flip("ticket-<script>|x", "accuracy", 0.0, 1.0),)
    return GateReport(
        base_ref="origin/main",
        base_sha="0123456789abcdef0123456789abcdef01234567",
        evals=(
            EvalGate("triage", "triage-model@champion", regressed.verdict, regressed, "baseline",
                     "base: baselines/triage/triage-model.json at origin/main", "warn", flips, "specs/triage.yaml",
                     40, 200, 0.0123, {"accuracy": 52}, (Informational("judged", 0.8, 0.7),)),
            EvalGate("extraction", "extractor", steady.verdict, steady, "evaluated",
                     "base: extractor evaluated in this run on the head's items (no baseline on the base ref)",
                     "fail", (), "specs/extraction.yaml", 12, 20, 0.5, {}),
            EvalGate("faq", "faq-model", small.verdict, small, "baseline", "base: baselines/faq/faq-model.json",
                     "fail", (), "specs/faq.yaml", 3, 30, 0.0, {}, (Informational("tone", None, 0.9),)),
        ),
        policy_changes=("Eval 'triage': metric 'accuracy' changed (value)", "baselines/triage/x.json edited",
                        DatasetDiff("tickets", (), (), ("t|1\r\n::x",)).line()),
        new=(NewResult("triage", "triage-model@champion", "tone", 0.9, "floor >= 0.8", True),
             NewResult("summaries", "writer", "faithful", None, "no floor", None, "not evaluated: no key")),
        datasets=(DatasetDiff("tickets", (), (), ("t|1\r\n::x",)),),
        notes=("Ignored 1 file(s) under .flywheel/ tracked in this pull request (.flywheel/store.sqlite)",),
    )  # fmt: skip


def _golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("FLYWHEEL_UPDATE_GOLDEN"):
        path.write_text(actual)
    assert actual == path.read_text(), f"{name} differs from its golden file; see the module docstring"


def test_terminal_text() -> None:
    _golden("report.txt", fmt.text(_report()))


LINK = "`report.html` in the [artifacts of this run](https://github.com/o/r/actions/runs/7#artifacts)"


def test_markdown_comment() -> None:
    md = fmt.markdown(_report(), link=LINK)
    assert md.startswith(fmt.MARKER)
    _golden("report.md", md)


def test_annotations_point_at_the_metric() -> None:
    _golden("annotations.txt", "\n".join(fmt.workflow_annotations(_report())) + "\n")


def test_junit_has_one_case_per_metric() -> None:
    xml = fmt.junit(_report())
    cases = ET.fromstring(xml).findall(".//testcase")
    assert len(cases) == 3
    _golden("junit.xml", xml)


def test_json() -> None:
    _golden("report.json", fmt.json_text(_report()))


def test_markdown_stays_under_the_step_summary_cap() -> None:
    big = _report()
    many = tuple(Flip(f"item-{'x' * 200}-{i}", "accuracy", 1.0, 0.0) for i in range(20_000))
    huge = GateReport(big.base_ref, big.base_sha, (EvalGate(**{**big.evals[0].__dict__, "flips": many}),), ())
    md = fmt.markdown(huge, limit=64 * 1024)
    assert len(md.encode()) <= 64 * 1024


def test_an_approved_report_names_the_approver_and_passes() -> None:
    report = replace(_report(), approval=Approval("maintainer", "89abcdef" * 5))
    assert not report.unapproved
    assert "Approved by @maintainer on 89abcde: the gate used this pull request's versions of its inputs:" in (
        fmt.text(report)
    )
    lines = fmt.markdown(report).splitlines()
    assert "**Approved by @maintainer on 89abcde: the gate used this pull request's versions of its inputs:**" in lines
    assert "- Dataset 'tickets': 0 item(s) added, 0 removed, 1 relabelled; relabelled: t\\|1\\x0d\\x0a::x" in lines


@pytest.mark.parametrize("hostile", ["::error::pwned", "%0A::set-output name=x::y", "a\r\n::warning::b"])
def test_fenced_output_cannot_issue_workflow_commands(hostile: str) -> None:
    block = fmt.fenced(f"model said:\n{hostile}\n", token="t" * 32)
    lines = block.splitlines()
    assert lines[0] == "::stop-commands::" + "t" * 32 and lines[-1] == "::" + "t" * 32 + "::"
