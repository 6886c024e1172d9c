"""The report as one self-contained HTML file: inline CSS and script, the data gzip-compressed and base64-coded
in a non-executed script element, trend charts as inline SVG, and a Content-Security-Policy that forbids every
network fetch, so it opens the same from a CI artifact or a laptop."""

from __future__ import annotations

import base64
import gzip
import json
from importlib import resources
from typing import Any
from xml.sax.saxutils import escape

CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"


def _static(name: str) -> str:
    return resources.files("runner.report").joinpath("static", name).read_text(encoding="utf-8")


def render(data: dict[str, Any]) -> str:
    """The HTML page for `data` (from `runner.report.build.build`)."""
    payload = json.dumps({k: v for k, v in data.items() if k != "trends"}, separators=(",", ":"), ensure_ascii=False)
    blob = base64.b64encode(gzip.compress(payload.encode("utf-8"), compresslevel=9, mtime=0)).decode("ascii")
    trends = data.get("trends") or []
    charts = "\n".join(t["svg"] for t in trends) or '<p class="muted">no history yet (baselines/history.jsonl)</p>'
    title = escape(str(data["title"]))
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{_static("report.css")}</style>
</head>
<body>
<header><h1>{title}</h1><p id="meta"></p></header>
<nav><a href="#summary">Summary</a><a href="#gate" id="nav-gate" hidden>Gate</a><a href="#samples">Samples</a>
<a href="#comparison" id="nav-comparison" hidden>Model comparison</a><a href="#trends">Trends</a></nav>
<section id="summary"><h2>Summary</h2></section>
<section id="gate" hidden><h2>Gate</h2></section>
<section id="samples"><h2>Samples</h2></section>
<section id="comparison" hidden><h2>Model comparison</h2></section>
<section id="trends"><h2>Trends on main</h2>
{charts}
</section>
<script id="report-data" type="application/octet-stream">{blob}</script>
<script>
{_static("report.js")}</script>
</body>
</html>
"""
