"""Every form of a gate report, from one `GateReport`: terminal text, PR comment markdown, step summary,
GitHub annotations, JUnit XML and JSON. Text that came from the pull request (item ids, spec paths) is
escaped or fenced so it cannot inject workflow commands."""

from __future__ import annotations

import json
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

from runner.gate.gate import EvalGate, GateReport, NewResult

MARKER = "<!-- flywheel-gate -->"
"""Identifies Flywheel's PR comment so CI edits it in place instead of adding another."""
SUMMARY_LIMIT = 1024 * 1024 - 4096
"""GitHub rejects step summaries over 1 MiB; keep a margin."""
MAX_FLIPS_SHOWN = 50
APPROVAL_LABEL = "flywheel:approve-gate-change"
"""The label a maintainer (not the PR's author) applies to approve changes to the gate's inputs."""


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _rows(report: GateReport) -> Iterator[tuple[EvalGate, list[str]]]:
    for g in report.evals:
        if g.comparison is None:
            yield g, [g.eval, g.model, "-", g.verdict, "-", "-", "-", "-", "-", str(g.n_paired)]
            continue
        for m in g.comparison.metrics:
            yield g, [
                g.eval, g.model, m.name, m.verdict, _pct(m.base_value), _pct(m.head_value), f"{m.delta:+.3f}",
                f"[{m.ci_low:+.3f}, {m.ci_high:+.3f}]", f"{m.p_value:.3g}", str(m.n),
            ]  # fmt: skip


HEADER = ["eval", "model", "metric", "verdict", "base", "head", "delta", "interval", "p(drop)", "n"]
P_NOTE = (
    "interval: the values of delta the test could not rule out, at its own level (two-sided 1 - 2·alpha/m: 90% for "
    "one gated metric at alpha 0.05); a drop beyond its lower end is ruled out. p(drop): the one-sided p-value of a "
    "drop, i.e. how likely a drop at least this large would be if the head were no worse than the base (the verdict "
    "uses it Holm-adjusted across an Eval's gated metrics)."
)


def _fails_note(g: EvalGate) -> str:
    """Why an INCONCLUSIVE verdict fails the check, when it does."""
    if g.verdict == "INCONCLUSIVE" and g.on_inconclusive == "fail":
        return "; this fails the check: the policy is `on_inconclusive: fail` (or `--fail-on-inconclusive` was given)"
    return ""


def _info_lines(g: EvalGate) -> list[str]:
    return [f"{i.name} (informational, gate: false): base {_pct(i.base)}, head {_pct(i.head)}" for i in g.informational]


def _new_line(n: NewResult) -> str:
    if n.value is None:
        floor = f" ({n.floor})" if n.floor != "-" else ""
        return f"{n.eval} · {n.model}: {n.metric}{floor}: {n.note}"
    ok = {None: "", True: ": ok", False: ": BROKEN"}[n.floor_ok]
    return f"{n.eval} · {n.model}: {n.metric} {n.value:.3f} ({n.floor}{ok})"


def sections(report: GateReport) -> list[tuple[str, list[str]]]:
    """The report's sections after the per-eval lines, as (heading, lines): the same in every text form."""
    out: list[tuple[str, list[str]]] = []
    if report.new:
        out.append(
            (
                "New, not gated (run on this pull request; they are gated once merged):",
                [_new_line(n) for n in report.new],
            )
        )
    if report.datasets:
        used = "this pull request's (approved)" if report.approval else "the base ref's"
        out.append(
            (f"Dataset changes in this pull request (the verdict used {used} items and labels):",
             [d.line() for d in report.datasets])
        )  # fmt: skip
    if report.policy_changes:
        if report.approval:
            a = report.approval
            heading = f"Approved by @{a.by} on {a.sha[:7]}: the gate used this pull request's versions of its inputs:"
        else:
            heading = "This pull request changes the gate's own inputs; the gate used the versions on the base ref:"
        out.append((heading, list(report.policy_changes)))
        if report.unapproved:
            out.append(
                (f"Not approved: changes to the gate's inputs FAIL the gate. A maintainer other than the author can "
                 f"approve them for this commit with the label {APPROVAL_LABEL}.", [])
            )  # fmt: skip
    if report.notes:
        out.append(("Notes:", list(report.notes)))
    return out


def text(report: GateReport) -> str:
    """The terminal report."""
    rows = [HEADER] + [r for _, r in _rows(report)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = [f"Flywheel gate: {report.verdict} (base {report.base_ref} @ {report.base_sha[:7]})", ""]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.append("")
    for g in report.evals:
        lines.append(f"{g.eval} · {g.model}: {g.note}{_fails_note(g).replace('`', '')}")
        if g.comparison is not None:
            lines.extend(f"  {m.name}: {m.verdict}: {m.reason}" for m in g.comparison.metrics)
        lines.extend(f"  {line}" for line in _info_lines(g))
    lines += ["", P_NOTE]
    for heading, items in sections(report):
        lines += ["", heading]
        lines += [f"  - {c}" for c in items]
    return "\n".join(lines) + "\n"


def markdown(report: GateReport, limit: int = SUMMARY_LIMIT, link: str | None = None) -> str:
    """The PR comment (also the step summary): verdict first, the table, flipped items folded, cost. `link` (trusted
    markdown) points at the HTML report."""
    cost = sum(g.cost_usd for g in report.evals)
    fails = (
        " (fails: `on_inconclusive: fail`)" if report.verdict == "INCONCLUSIVE" and report.fails_on_inconclusive else ""
    )
    out = [
        MARKER,
        f"## Flywheel gate: **{report.verdict}**{fails}",
        "",
        f"Base `{report.base_ref}` ({report.base_sha[:7]}) · {len(report.evals)} eval(s) gated · "
        f"cost of this run ${cost:.4f}",
        "",
    ]
    if link:
        out += [f"Every sample, the flipped items side by side and trends: {link}", ""]
    if report.unapproved:
        out += [
            "> **This pull request changes the gate's own inputs.** The gate used the versions on "
            f"`{report.base_ref}`; the changes take effect after merge. Until a maintainer approves them (label "
            f"`{APPROVAL_LABEL}`), they FAIL the gate:"
        ]
        out += [f"> - {_md(c)}" for c in report.policy_changes]
        out.append("")
    out += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(_md(c) for c in r) + " |" for _, r in _rows(report)]
    out += ["", f"_{P_NOTE}_", ""]
    for g in report.evals:
        out.append(f"- **{_md(g.eval)}** · {_md(g.model)}: {_md(g.note)}{_fails_note(g)}")
        if g.comparison is not None:
            out += [f"  - {_md(m.name)}: {m.verdict}: {_md(m.reason)}" for m in g.comparison.metrics]
        out += [f"  - {_md(line)}" for line in _info_lines(g)]
    for heading, items in sections(report)[: len(sections(report)) - (1 if report.notes else 0)]:
        if report.unapproved and heading.startswith(("This pull request changes", "Not approved")):
            continue  # already the quote at the top
        out += ["", f"**{_md(heading)}**", ""] + [f"- {_md(c)}" for c in items]
    if report.notes:
        out += ["", "**Notes:**", ""] + [f"- {_md(c)}" for c in report.notes]
    body = "\n".join(out) + "\n"
    details = "".join(_flips_md(g) for g in report.evals if g.flips)
    if len((body + details).encode()) > limit:
        details = "\n_Flipped items omitted: the report is over GitHub's size limit; see the JSON report._\n"
    return body + details


def _flips_md(g: EvalGate) -> str:
    regressed = sum(1 for f in g.flips if f.head < f.base)
    lines = [
        "",
        f"<details><summary>{_md(g.eval)} · {_md(g.model)}: {len(g.flips)} item(s) flipped "
        f"({regressed} regressed, {len(g.flips) - regressed} fixed)</summary>",
        "",
        "| item | metric | base | head | input | expected | base output | head output |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {_code(f.item)} | {_md(f.metric)} | {f.base:g} | {f.head:g} | {_opt(f.input)} | {_opt(f.expected)} | "
        f"{_opt(f.base_output, 'not kept (baseline)')} | {_opt(f.head_output)} |"
        for f in g.flips[:MAX_FLIPS_SHOWN]
    ]
    if len(g.flips) > MAX_FLIPS_SHOWN:
        lines.append(f"| ... {len(g.flips) - MAX_FLIPS_SHOWN} more | | | | | | | |")
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def _opt(value: str | None, missing: str = "-") -> str:
    return missing if value is None else "(empty)" if not value else _code(value)


def _md(value: str) -> str:
    """Neutralise markdown table breaks and HTML from untrusted text."""
    return value.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\r", " ").replace("\n", " ")


def _code(value: str) -> str:
    """Untrusted text as an inline code span in a table cell: HTML is inert there (so it is shown as it is),
    backticks cannot close the span and pipes cannot end the cell."""
    return "`" + value.replace("`", "\u2018").replace("|", "\\|").replace("\r", " ").replace("\n", " ") + "`"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def workflow_annotations(report: GateReport) -> list[str]:
    """`::error` / `::warning` workflow commands pointing at the Eval spec of each failing metric."""
    out = []
    for g in report.evals:
        where = f"file={_escape_prop(g.spec_file)},line={g.spec_line},title={_escape_prop('Flywheel gate')}"
        if g.comparison is None:
            if g.verdict != "PASS":
                out.append(f"::warning {where}::{_escape_data(f'{g.eval}: {g.note}')}")
            continue
        for m in g.comparison.metrics:
            line = g.metric_lines.get(m.name, g.spec_line)
            where = f"file={_escape_prop(g.spec_file)},line={line},title={_escape_prop('Flywheel gate')}"
            if m.verdict == "FAIL":
                out.append(f"::error {where}::{_escape_data(f'{g.eval}/{m.name} on {g.model}: {m.reason}')}")
            elif m.verdict == "INCONCLUSIVE":
                kind = "error" if g.on_inconclusive == "fail" else "warning"
                out.append(f"::{kind} {where}::{_escape_data(f'{g.eval}/{m.name} on {g.model}: {m.reason}')}")
    return out


def fenced(text_block: str, token: str | None = None) -> str:
    """Wrap text for a GitHub Actions log so nothing inside is read as a workflow command."""
    token = token or secrets.token_hex(16)
    return f"::stop-commands::{token}\n{text_block}::{token}::\n"


def junit(report: GateReport) -> str:
    """JUnit XML: one test case per (eval, model, metric)."""
    suite = ET.Element("testsuite", name="flywheel-gate")
    tests = failures = skipped = 0
    for g in report.evals:
        metrics = g.comparison.metrics if g.comparison else ()
        if not metrics:
            case = ET.SubElement(suite, "testcase", classname=f"{g.eval}.{g.model}", name="gate")
            ET.SubElement(case, "skipped", message=g.note)
            tests, skipped = tests + 1, skipped + 1
        for m in metrics:
            tests += 1
            case = ET.SubElement(suite, "testcase", classname=f"{g.eval}.{g.model}", name=m.name)
            if m.verdict == "FAIL" or (m.verdict == "INCONCLUSIVE" and g.on_inconclusive == "fail"):
                failures += 1
                ET.SubElement(case, "failure", message=m.reason, type=m.verdict).text = m.reason
            elif m.verdict == "INCONCLUSIVE":
                skipped += 1
                ET.SubElement(case, "skipped", message=m.reason)
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("skipped", str(skipped))
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def as_json(report: GateReport) -> dict[str, Any]:
    """The machine-readable report (the source of truth the other forms are drawn from)."""
    return {
        "version": 1,
        "verdict": report.verdict,
        "base": {"ref": report.base_ref, "sha": report.base_sha},
        "policy_changes": list(report.policy_changes),
        "approval": None if report.approval is None else {"by": report.approval.by, "sha": report.approval.sha},
        "unapproved_changes": report.unapproved,
        "new": [n.__dict__ for n in report.new],
        "datasets": [
            {"dataset": d.dataset, "added": list(d.added), "removed": list(d.removed), "relabelled": list(d.relabelled)}
            for d in report.datasets
        ],
        "notes": list(report.notes),
        "evals": [
            {
                "eval": g.eval,
                "model": g.model,
                "verdict": g.verdict,
                "base_source": g.base_source,
                "note": g.note,
                "on_inconclusive": g.on_inconclusive,
                "n_paired": g.n_paired,
                "cost_usd": round(g.cost_usd, 8),
                "spec": {"file": g.spec_file, "line": g.spec_line},
                "metrics": [
                    m.__dict__ | {"base_ci": list(m.base_ci), "head_ci": list(m.head_ci)}
                    for m in (g.comparison.metrics if g.comparison else ())
                ],
                "flips": [f.__dict__ for f in g.flips],
                "informational": [i.__dict__ for i in g.informational],
            }
            for g in report.evals
        ],
    }


def json_text(report: GateReport) -> str:
    return json.dumps(as_json(report), indent=2, sort_keys=True, default=str) + "\n"
