"""Training examples for the local backend as token ids: chat JSONL rendered through the model's chat template.

Loss falls only on assistant tokens (the answer and its end-of-turn marker), and not on assistant turns carrying
`weight: 0`. Each segment is tokenized on its own, cut exactly where the prompt ends, so a trained answer starts at
the same token boundary as the server's generation (whose prompt ends with the generation prompt).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from runner.errors import FinetuneError

IGNORE = -100
"""Label of a token the loss skips (the value transformers and torch use)."""

MAX_TOKENS = 2048
"""Examples are cut to this many tokens (the embedded model is served with a 4096 context)."""


class ChatTokenizer(Protocol):
    """The part of a transformers tokenizer this module uses."""

    def apply_chat_template(self, conversation: Any, **kwargs: Any) -> Any: ...

    def encode(self, text: str, **kwargs: Any) -> list[int]: ...


@dataclass(frozen=True)
class Example:
    """One tokenized sequence; `labels` is `input_ids` with IGNORE wherever no loss is taken."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]


@dataclass(frozen=True)
class Pair:
    """One DPO preference pair: the same prompt with the preferred and the non-preferred answer."""

    chosen: Example
    rejected: Example


def read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line."""
    rows: list[tuple[int, dict[str, Any]]] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise FinetuneError(f"{path}:{lineno}: not JSON: {exc.msg}") from None
            if not isinstance(obj, dict):
                raise FinetuneError(f"{path}:{lineno}: expected a JSON object")
            rows.append((lineno, obj))
    if not rows:
        raise FinetuneError(f"{path}: no training examples")
    return rows


def _text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return "".join(str(p.get("text", "")) for p in content)
    raise FinetuneError(f"{where}: message content must be text; the local backend trains on text only")


def _messages(raw: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not raw:
        raise FinetuneError(f"{where}: `messages` must be a non-empty list")
    out = []
    for i, msg in enumerate(raw):
        if not isinstance(msg, dict) or msg.get("role") not in ("system", "developer", "user", "assistant"):
            raise FinetuneError(f"{where}: message {i} needs a role of system, user or assistant")
        role = "system" if msg["role"] == "developer" else str(msg["role"])
        out.append({"role": role, "content": _text(msg.get("content"), where)})
    return out


def _render(tok: ChatTokenizer, messages: Sequence[dict[str, str]], generation_prompt: bool) -> str:
    text = tok.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=generation_prompt)
    return str(text)


def _tokens(tok: ChatTokenizer, text: str) -> list[int]:
    return list(tok.encode(text, add_special_tokens=False)) if text else []


def _example(tok: ChatTokenizer, messages: list[dict[str, str]], trained: set[int], where: str) -> Example:
    """Tokenize `messages`, taking loss on the assistant turns whose indexes are in `trained`."""
    ids: list[int] = []
    labels: list[int] = []
    seen = ""  # the prefix of the rendering already tokenized
    for i in sorted(trained):
        before = _render(tok, messages[:i], generation_prompt=True)
        upto = _render(tok, messages[: i + 1], generation_prompt=False)
        if not (before.startswith(seen) and upto.startswith(before)):
            raise FinetuneError(f"{where}: the chat template does not render turn by turn; cannot mask the prompt")
        prompt = _tokens(tok, before[len(seen) :])
        answer = _tokens(tok, upto[len(before) :])
        ids += prompt + answer
        labels += [IGNORE] * len(prompt) + answer
        seen = upto
    full = _render(tok, messages, generation_prompt=False)
    if not full.startswith(seen):
        raise FinetuneError(f"{where}: the chat template does not render turn by turn; cannot mask the prompt")
    tail = _tokens(tok, full[len(seen) :])
    ids += tail
    labels += [IGNORE] * len(tail)
    if all(label == IGNORE for label in labels[:MAX_TOKENS]):
        # Nothing left to learn: a batch of only such examples has a NaN loss, found after the whole run.
        raise FinetuneError(
            f"{where}: the prompt fills the {MAX_TOKENS}-token window, so no answer token is trained; shorten it"
        )
    return Example(tuple(ids[:MAX_TOKENS]), tuple(labels[:MAX_TOKENS]))


def sft_examples(path: Path, tok: ChatTokenizer) -> list[Example]:
    """sft / distill lines `{"messages": [...]}`; an assistant turn with `"weight": 0` is context, not target."""
    examples = []
    for lineno, row in read_jsonl(path):
        where = f"{path}:{lineno}"
        raw: Any = row.get("messages")
        messages = _messages(raw, where)  # checks that `raw` is a list of messages
        trained = {i for i, m in enumerate(raw) if m["role"] == "assistant" and m.get("weight", 1) != 0}
        if not trained:
            raise FinetuneError(f"{where}: no assistant turn to learn from (all have weight 0 or none exists)")
        examples.append(_example(tok, messages, trained, where))
    return examples


def dpo_pairs(path: Path, tok: ChatTokenizer) -> list[Pair]:
    """dpo lines `{"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output": [...]}`."""
    pairs = []
    for lineno, row in read_jsonl(path):
        where = f"{path}:{lineno}"
        raw_input = row.get("input")
        prompt = _messages(raw_input.get("messages") if isinstance(raw_input, dict) else None, where)
        answers = []
        for key in ("preferred_output", "non_preferred_output"):
            out = _messages(row.get(key), f"{where}: {key}")
            if len(out) != 1 or out[0]["role"] != "assistant":
                raise FinetuneError(f"{where}: `{key}` must hold exactly one assistant message")
            answers.append(_example(tok, [*prompt, out[0]], {len(prompt)}, where))
        pairs.append(Pair(chosen=answers[0], rejected=answers[1]))
    return pairs
