"""Trend charts as inline SVG: each metric of an (eval, model) over the commits in baselines/history.jsonl, with
the fine-tune promotions of baselines/lineage.jsonl marked where they took effect. No script, no network."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

WIDTH, HEIGHT, PAD_L, PAD_R, PAD_T, PAD_B = 640, 220, 48, 16, 24, 36
COLORS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2")
MAX_POINTS = 200
"""The latest points shown per chart."""


def trend_svgs(history: Sequence[Mapping[str, Any]], lineage: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """One chart per (eval, model) in the history, in order of first appearance."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for entry in history:
        groups.setdefault((str(entry.get("eval")), str(entry.get("model"))), []).append(entry)
    out = []
    for (eval_name, model), entries in groups.items():
        promos = [e for e in lineage if e.get("decision") == "promoted" and e.get("eval") == eval_name]
        out.append({"eval": eval_name, "model": model, "svg": chart(eval_name, model, entries[-MAX_POINTS:], promos)})
    return out


def _x(i: int, n: int) -> float:
    return PAD_L + (WIDTH - PAD_L - PAD_R) * (i / (n - 1) if n > 1 else 0.5)


def chart(
    eval_name: str, model: str, entries: Sequence[Mapping[str, Any]], promotions: Sequence[Mapping[str, Any]]
) -> str:
    """The SVG of one (eval, model): a line per metric, points labelled with their commit."""
    names = sorted({m for e in entries for m in (e.get("metrics") or {})})
    values = [float(v["value"]) for e in entries for v in (e.get("metrics") or {}).values() if "value" in v]
    lo, hi = min([0.0, *values]), max([1.0, *values])
    span = (hi - lo) or 1.0
    n = len(entries)

    def y(v: float) -> float:
        return PAD_T + (HEIGHT - PAD_T - PAD_B) * (1 - (v - lo) / span)

    title = f"{eval_name} · {model}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title, {chr(34): "&quot;"})}">',
        f'<text x="{PAD_L}" y="14" class="t-title">{escape(title)}</text>',
    ]
    for tick in (lo, (lo + hi) / 2, hi):
        parts.append(f'<line x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" class="t-grid"/>')
        parts.append(f'<text x="{PAD_L - 6}" y="{y(tick) + 4:.1f}" class="t-axis" text-anchor="end">{tick:.2f}</text>')
    for i, e in enumerate(entries):
        sha = escape(str(e.get("commit") or "")[:7])
        if n <= 12 or i in (0, n - 1):
            parts.append(f'<text x="{_x(i, n):.1f}" y="{HEIGHT - 8}" class="t-axis" text-anchor="middle">{sha}</text>')
    for p in promotions:
        at = _first_after(entries, str(p.get("trained_at") or ""))
        if at is None:
            continue
        label = escape(f"promoted {p.get('model_id') or ''}"[:60])
        x = _x(at, n)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_T}" y2="{HEIGHT - PAD_B}" class="t-promo"/>')
        parts.append(f'<text x="{x + 4:.1f}" y="{PAD_T + 10}" class="t-promo-label">{label}</text>')
    for k, name in enumerate(names):
        color = COLORS[k % len(COLORS)]
        pts = [
            (_x(i, n), y(float(e["metrics"][name]["value"])), e)
            for i, e in enumerate(entries)
            if name in (e.get("metrics") or {})
        ]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in pts)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for px, py, e in pts:
            v = float(e["metrics"][name]["value"])
            tip = escape(f"{name} {v:.3f} at {str(e.get('commit') or '')[:7]}")
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color}"><title>{tip}</title></circle>')
        parts.append(
            f'<text x="{WIDTH - PAD_R - 4}" y="{PAD_T + 14 * (k + 1)}" fill="{color}" class="t-legend" '
            f'text-anchor="end">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _first_after(entries: Sequence[Mapping[str, Any]], when: str) -> int | None:
    """Index of the first history point created at or after `when` (ISO 8601 strings compare in time order)."""
    if not when:
        return None
    return next((i for i, e in enumerate(entries) if str(e.get("created") or "") >= when), None)
