"""Caps for what the HTML page embeds, so a report of 10,000 samples stays a few MB: every cut is recorded and
shown next to the text (`capped at 1,500 of 8,000 characters`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from runner.hashing import canonical_json

TEXT = 1500
"""Characters of an output, a message or an error shown per sample."""
REASON = 1000
REFERENCE = 400
MESSAGES = 6
"""Messages of a rendered input shown (the last ones: the system prompt repeats across samples)."""


def text(value: str | None, limit: int, name: str, cuts: dict[str, list[int]]) -> str | None:
    """`value` cut to `limit`; `cuts[name]` = [shown, original length] when cut."""
    if value is None or len(value) <= limit:
        return value
    cuts[name] = [limit, len(value)]
    return value[:limit]


def messages(msgs: Sequence[Mapping[str, Any]] | None, cuts: dict[str, list[int]]) -> list[dict[str, str]] | None:
    """Rendered input messages as role/content pairs, each content capped, the last MESSAGES of them."""
    if msgs is None:
        return None
    shown = list(msgs)[-MESSAGES:]
    if len(msgs) > MESSAGES:
        cuts["input"] = [MESSAGES, len(msgs)]
    out = []
    for i, m in enumerate(shown):
        content = m.get("content")
        body = content if isinstance(content, str) else canonical_json(content)
        out.append({"role": str(m.get("role", "")), "content": text(body, TEXT, f"input.{i}", cuts) or ""})
    return out


def mapping(values: Mapping[str, Any], limit: int, prefix: str, cuts: dict[str, list[int]]) -> dict[str, str]:
    """Each value as text, capped."""
    out = {}
    for key, value in values.items():
        body = value if isinstance(value, str) else canonical_json(value)
        out[key] = text(body, limit, f"{prefix}.{key}", cuts) or ""
    return out
