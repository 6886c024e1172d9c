"""Turning pydantic errors into messages a person can act on: data paths, breadcrumbs, 'did you mean'."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from runner.specs.yamlpos import Path_, Pos


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """`; did you mean 'x'?` for the closest option, or '' when nothing is close."""
    close = difflib.get_close_matches(word, sorted(set(options)), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def data_path(data: Any, loc: Sequence[str | int]) -> Path_:
    """Keep the parts of a pydantic `loc` that index into `data` (drops union tags and validator names)."""
    out: list[str | int] = []
    cur = data
    for part in loc:
        if isinstance(cur, dict) and part in cur:  # noqa: SIM114 - cur[part] needs the narrowed types
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, dict) and isinstance(part, str) and part == loc[-1]:
            out.append(part)  # a missing or unknown key: the last element names it
    return tuple(out)


def breadcrumb(kind: str, name: str | None, data: Any, path: Path_) -> str:
    """`Eval/triage -> spec -> metrics -> accuracy -> grader`: list items are named by their `name`."""
    parts = [f"{kind or 'document'}/{name}" if name else (kind or "document")]
    cur = data
    for part in path:
        if isinstance(part, int):
            elem = cur[part] if isinstance(cur, list) and part < len(cur) else None
            if isinstance(elem, dict) and isinstance(elem.get("name"), str):
                parts.append(elem["name"])
            else:
                parts[-1] = f"{parts[-1]}[{part}]"
            cur = elem
        else:
            parts.append(str(part))
            cur = cur.get(part) if isinstance(cur, dict) else None
    return " -> ".join(parts)


SNIPPET_WIDTH = 100


def snippet(lines: Sequence[str], pos: Pos) -> tuple[str, ...]:
    """The source line and a caret under the column."""
    if not 1 <= pos.line <= len(lines):
        return ()
    text, col = lines[pos.line - 1].rstrip("\n"), pos.col
    if len(text) > SNIPPET_WIDTH:  # a window around the column, so a huge line is never printed whole
        start = max(0, min(col - 1 - SNIPPET_WIDTH // 2, len(text) - SNIPPET_WIDTH))
        text, col = (
            ("..." if start else "") + text[start : start + SNIPPET_WIDTH] + "...",
            col - start + (3 if start else 0),
        )
    return (f"{pos.line:>5} | {text}", f"      | {' ' * (col - 1)}^")


def _quoted(expected: str) -> list[str]:
    return re.findall(r"'([^']*)'", expected)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _schema_at(schema: dict[str, Any], loc: Sequence[str | int]) -> dict[str, Any] | None:
    """Walk a pydantic JSON schema along a raw `loc` (including union tags) and return the object schema."""
    defs = schema.get("$defs", {})

    def resolve(s: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in s:
            s = defs[s["$ref"].split("/")[-1]]
        return s

    cur = resolve(schema)
    for part in loc:
        cur = resolve(cur)
        branches = cur.get("oneOf") or cur.get("anyOf")
        if branches and isinstance(part, str):
            mapping = cur.get("discriminator", {}).get("mapping", {})
            if part in mapping:
                cur = resolve({"$ref": mapping[part]})
                continue
            objects = [resolve(b) for b in branches if resolve(b).get("type") == "object"]
            if len(objects) == 1:
                cur = objects[0]
        if isinstance(part, int) and "items" in cur:
            cur = resolve(cur["items"])
        elif isinstance(part, int) and "prefixItems" in cur:
            cur = resolve(cur["prefixItems"][min(part, len(cur["prefixItems"]) - 1)])
        elif isinstance(part, str) and part in cur.get("properties", {}):
            cur = resolve(cur["properties"][part])
        elif isinstance(part, str) and isinstance(cur.get("additionalProperties"), dict):
            cur = resolve(cur["additionalProperties"])
    cur = resolve(cur)
    if "properties" not in cur:
        objects = [resolve(b) for b in cur.get("anyOf", []) if "properties" in resolve(b)]
        cur = objects[0] if len(objects) == 1 else cur
    return cur if "properties" in cur else None


@dataclass(frozen=True)
class FieldProblem:
    """One validation problem at a data path; `at_key` points at the key rather than the value."""

    path: Path_
    message: str
    at_key: bool = False


def _message(err: ErrorDetails, schema: dict[str, Any]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    loc = err["loc"]
    field = str(loc[-1]) if loc else ""
    if kind == "missing":
        return f"missing required field '{field}'; add `{field}:`"
    if kind == "extra_forbidden":
        parent = _schema_at(schema, loc[:-1])
        allowed = sorted(parent["properties"]) if parent else []
        hint = did_you_mean(field, allowed)
        if not hint and allowed:
            hint = f"; allowed keys: {', '.join(allowed)}"
        return f"unknown key '{field}'{hint}"
    if kind == "literal_error":
        options = _quoted(str(ctx.get("expected", "")))
        value = err["input"]
        hint = did_you_mean(str(value), options) if isinstance(value, str) else ""
        return f"{_short(value)} is not one of {', '.join(options)}{hint}"
    if kind == "union_tag_invalid":
        options = _quoted(str(ctx.get("expected_tags", "")))
        tag = str(ctx.get("tag", ""))
        disc = str(ctx.get("discriminator", "")).strip("'")
        return f"unknown {disc} '{tag}'{did_you_mean(tag, options)} (expected one of {', '.join(options)})"
    if kind == "union_tag_not_found":
        disc = str(ctx.get("discriminator", "")).strip("'")
        parent = _schema_at(schema, loc)
        mapping = (parent or {}).get("discriminator", {}).get("mapping", {})
        one_of = f" (one of {', '.join(mapping)})" if mapping else ""
        return f"missing '{disc}'; add `{disc}:`{one_of}"
    if kind in ("model_type", "dict_type"):
        target = _schema_at(schema, loc)
        keys = sorted(target["properties"]) if target else []
        value = err["input"]
        listed = f" with {', '.join(f'`{k}`' for k in keys)}" if keys else ""
        example = ""
        if keys == ["lower", "upper"] and isinstance(value, int | float) and not isinstance(value, bool):
            example = f"; for a floor write `{field}: {{lower: {value}}}` (`{{upper: {value}}}` for a ceiling)"
        return f"expected a mapping{listed}, got {_short(value)}{example}"
    if kind in ("value_error", "assertion_error"):
        return str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "string_pattern_mismatch" and field in ("name", "grader", "dataset", "prompt"):
        return (
            f"{_short(err['input'])} is not a valid name; use lowercase letters, digits, '.', '_' and '-' "
            "(at most 64 characters)"
        )
    msg = str(err["msg"])
    msg = msg[0].lower() + msg[1:] if msg else msg
    return f"{msg}, got {_short(err['input'])}"


def field_problems(exc: ValidationError, data: Any, schema: dict[str, Any]) -> list[FieldProblem]:
    """One problem per data path: errors from several branches of a union at one place are merged."""
    merged: dict[Path_, list[str]] = {}
    at_key: dict[Path_, bool] = {}
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = (*loc, str((err.get("ctx") or {}).get("discriminator", "")).strip("'"))
        path = data_path(data, loc)
        message = _message(err, schema)
        if message not in merged.setdefault(path, []):
            merged[path].append(message)
        at_key[path] = err["type"] == "extra_forbidden"
    return [FieldProblem(p, "; or ".join(msgs), at_key[p]) for p, msgs in merged.items()]
